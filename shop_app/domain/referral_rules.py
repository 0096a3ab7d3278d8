"""Referral fraud rules (issue 11, product §4): does a friend's order earn the advocate a reward? Pure.

A reward is refused, with a reason the merchant can read, when
1. the friend is the advocate: the same Shopify customer, email, phone or shipping address;
2. the friend had ordered before (a referral brings a *new* customer): by our own orders when the
   friend's order comes in, then by Shopify's count of the customer's orders at the reward's send
   (`shopify_refusal`: our records only know the orders since install, and Shopify is never asked
   inside a transaction);
3. the same friend already counted for this advocate (one reward per friend);
4. the advocate reached the cap of rewards in the last 30 days (a setting, default 10).

The rules are checked in that order and the first that applies is the reason. Contact details are
compared in a normal form (`normal_email`, `normal_phone`), so spelling an address differently is
not a way round a rule. A shipping address is compared by its key (orders.shipping_address_key:
a keyed hash of the address in a normal form, domain/addresses.shipping_address_key), never read;
a refusal for it says so without the address.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: Rewards an advocate may earn in `CAP_WINDOW_DAYS` unless the settings say otherwise.
DEFAULT_REWARD_CAP = 10
CAP_WINDOW_DAYS = 30
#: A phone spelled nationally ("600 111 222") still matches its international form
#: ("+34600111222") when at least this many trailing digits agree.
MIN_PHONE_SUFFIX = 7
#: Mail providers that ignore dots in the local part.
_DOTLESS_DOMAINS = frozenset({"gmail.com", "googlemail.com"})

# Machine-readable names of the rules; the reasons below are what the merchant reads.
SELF_REFERRAL = "self_referral"
ORDERED_BEFORE = "ordered_before"
ALREADY_COUNTED = "already_counted"
CAP_REACHED = "cap_reached"
#: What `self_referral` says when the friend's order ships to one of the advocate's addresses.
SAME_ADDRESS = "same shipping address"
#: Not a fraud rule: the merchant turned advocate rewards off (referral.reward.enabled).
REWARDS_OFF = "rewards_off"


def normal_email(value: str | None) -> str | None:
    """`Ana.Lopez+promo@GMail.com` → `analopez@gmail.com`: case, sub-address tags and (where the
    provider ignores them) dots do not make another person."""
    if not value or "@" not in value:
        return None
    local, _, domain = value.strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in _DOTLESS_DOMAINS:
        local = local.replace(".", "")
    return f"{local}@{domain}" if local and domain else None


def normal_phone(value: str | None) -> str | None:
    """The digits of a phone number (a leading + kept), or None when fewer than six digits."""
    if not value:
        return None
    digits = re.sub(r"[^0-9]", "", value)
    if len(digits) < 6:
        return None
    return "+" + digits if value.strip().startswith("+") else digits


def same_phone(a: str, b: str) -> bool:
    """Two normal phones are one number: equal, or one the national spelling of the other."""
    if a == b:
        return True
    x, y = a.lstrip("+").lstrip("0"), b.lstrip("+").lstrip("0")
    shorter, longer = sorted((x, y), key=len)
    return len(shorter) >= MIN_PHONE_SUFFIX and longer.endswith(shorter)


def codes_used(payload: Any) -> frozenset[str]:
    """The discount codes an order webhook says were used (`discount_codes[].code`), upper-cased."""
    raw = payload.get("discount_codes") if isinstance(payload, dict) else None
    if not isinstance(raw, list):
        return frozenset()
    codes = (entry.get("code") for entry in raw[:50] if isinstance(entry, dict))
    return frozenset(code.strip().upper() for code in codes if isinstance(code, str) and code.strip())


@dataclass(frozen=True)
class AdvocateFacts:
    """Everything known about the advocate: their customer id, every email and phone we saw for
    them (in normal form) and the keys of the shipping addresses of their orders."""

    customer_id: str | None = None
    emails: frozenset[str] = field(default_factory=frozenset)
    phones: frozenset[str] = field(default_factory=frozenset)
    addresses: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class FriendFacts:
    """The friend's order: who placed it (normal forms) and what we know of their history."""

    customer_id: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None  # the key of the order's shipping address
    #: The friend had a paid order before this one (ours, or Shopify's count for the customer).
    ordered_before: bool = False
    #: An earlier order of the same friend already earned (or is earning) this advocate a reward.
    already_counted: bool = False


@dataclass(frozen=True)
class Decision:
    """`reward` True to issue; otherwise `rule` names the refusal and `reason` says it in words."""

    reward: bool
    reason: str
    rule: str | None = None


def facts(
    customer_id: str | None,
    emails: Iterable[str | None] = (),
    phones: Iterable[str | None] = (),
    addresses: Iterable[str | None] = (),
) -> AdvocateFacts:
    """AdvocateFacts from raw spellings: each value is normalised and the empty ones dropped."""
    return AdvocateFacts(
        customer_id=customer_id or None,
        emails=frozenset(e for e in map(normal_email, emails) if e),
        phones=frozenset(p for p in map(normal_phone, phones) if p),
        addresses=frozenset(a for a in addresses if a),
    )


def friend_facts(
    customer_id: str | None,
    email: str | None,
    phone: str | None,
    address: str | None,
    *,
    ordered_before: bool = False,
    already_counted: bool = False,
) -> FriendFacts:
    """FriendFacts from raw spellings (the address as its key)."""
    return FriendFacts(
        customer_id=customer_id or None,
        email=normal_email(email),
        phone=normal_phone(phone),
        address=address or None,
        ordered_before=ordered_before,
        already_counted=already_counted,
    )


def self_referral(advocate: AdvocateFacts, friend: FriendFacts) -> str | None:
    """What makes the friend the advocate ("same email"), or None when nothing does."""
    if friend.customer_id and friend.customer_id == advocate.customer_id:
        return "same customer"
    if friend.email and friend.email in advocate.emails:
        return "same email"
    if friend.phone and any(same_phone(friend.phone, phone) for phone in advocate.phones):
        return "same phone"
    if friend.address and friend.address in advocate.addresses:
        return SAME_ADDRESS
    return None


def decide(
    advocate: AdvocateFacts,
    friend: FriendFacts,
    rewards_in_window: int,
    cap: int = DEFAULT_REWARD_CAP,
) -> Decision:
    """Reward the advocate for this friend's order, or refuse with the first rule that applies.

    `rewards_in_window`: the advocate's rewards (pending or issued) in the last CAP_WINDOW_DAYS days.
    """
    if cap < 0 or rewards_in_window < 0:
        raise ValueError("the cap and the count of rewards are never negative")
    same = self_referral(advocate, friend)
    if same == SAME_ADDRESS:
        return Decision(False, "refused: the friend's shipping address is the advocate's", SELF_REFERRAL)
    if same:
        return Decision(False, f"refused: the friend is the advocate ({same})", SELF_REFERRAL)
    if friend.ordered_before:
        return Decision(False, "refused: the friend had ordered before (not a new customer)", ORDERED_BEFORE)
    if friend.already_counted:
        return Decision(False, "refused: this friend already counted for the advocate", ALREADY_COUNTED)
    if rewards_in_window >= cap:
        return Decision(
            False,
            f"refused: the advocate reached {cap} rewards in {CAP_WINDOW_DAYS} days",
            CAP_REACHED,
        )
    return Decision(True, "a new friend's first paid order used the advocate's code")


def shopify_refusal(shopify_orders: int | None, later_orders: int = 0) -> Decision | None:
    """The "ordered before" rule by Shopify's count, asked when the reward is sent: refused when
    Shopify's numberOfOrders for the friend (this order included) leaves an order before this one.

    `later_orders`: the friend's orders we hold placed after this one (a reward may wait hours for
    its window or days for a template, and Shopify counts an order placed meanwhile too).
    None when the reward goes on, including when Shopify knows no such customer (None): our own
    count, judged at the decision, stands."""
    if shopify_orders is None:
        return None
    if shopify_orders < 0 or later_orders < 0:
        raise ValueError("counts of orders are never negative")
    if shopify_orders - later_orders <= 1:
        return None
    reason = f"refused: Shopify counts {shopify_orders} orders for the friend: not a first order"
    return Decision(False, reason, ORDERED_BEFORE)
