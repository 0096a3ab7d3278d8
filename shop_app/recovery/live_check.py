"""Ask Shopify, just before a send, whether the customer already paid, and get the step's
discount code. Called between two short transactions, never while a row is locked.

If Shopify cannot answer (Admin API errors, no usable token, the network), the message waits:
it is never sent just in case.

A referral message (issue 11) has no payment to look for: the invite asks for the advocate's
personal code (made once, referral/codes.py), the reward for its unique code (referral/rewards.py);
when either cannot be had now, the message waits as for a recovery code. Before the reward's code
is made, Shopify is asked how many orders the friend has: an order before this one refuses the
reward and the message is skipped with the reason (Skip); when Shopify cannot answer, it waits.

A review or social step with an incentive asks for its thank-you code (referral/codes.step_code_for)
and waits the same way when it cannot be had.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import requests
from sqlalchemy.orm import Session

from shop_app.adapters.shopify_admin import AdminClient, OrderSummary
from shop_app.adapters.shopify_admin_operations import PaymentLookup
from shop_app.domain.models import Channel, Order, Step
from shop_app.errors import AdminApiUnavailable, ReclaimError, describe
from shop_app.recovery.discounts import (
    Reserved,
    StepCode,
    StepOffer,
    code_for,
    codes_for,
    needs_creating,
    record_many,
)
from shop_app.recovery.discounts import reserve as reserve_code
from shop_app.recovery.discounts import reserve_many as reserve_codes
from shop_app.recovery.gate_facts import Candidate
from shop_app.referral.codes import advocate_code, step_code_for
from shop_app.referral.rewards import RewardRefused, RewardTerms, issue_reward
from shop_app.runtime import Runtime
from shop_app.shopify.offline_tokens import open_admin_client

PAYMENT_CHECK_RETRY = timedelta(minutes=10)
DISCOUNT_RETRY = timedelta(minutes=30)
#: What "Shopify could not answer" looks like; DiscountUnavailable is a ReclaimError too.
ADMIN_FAILURES = (ReclaimError, requests.RequestException)


@dataclass(frozen=True)
class Cleared:
    """Not paid, as far as Shopify knows now; `code` is the step's discount code, if it offers one
    (a code created just now carries its Shopify id, which the claim's transaction records)."""

    code: StepCode | None


@dataclass(frozen=True)
class Wait:
    until: datetime
    reason: str


@dataclass(frozen=True)
class Skip:
    """The message must not go out, for `reason` (a reward Shopify's count of the friend's orders refused)."""

    reason: str


@dataclass(frozen=True)
class PaidElsewhere:
    """Shopify knows an order our webhooks have not told us about."""

    order: Order


def reserve(session: Session, candidate: Candidate, now: datetime) -> Reserved | None:
    """The recovery step's code, reserved in the caller's transaction before Shopify is asked (None:
    no code, or a referral message, whose codes referral/ reserves)."""
    return None if candidate.referral is not None else reserve_code(session, candidate.step_offer, now)


def reserve_many(session: Session, candidates: Sequence[Candidate], now: datetime) -> list[Reserved | None]:
    """`reserve` for a batch's messages in one statement (a referral message: None), in order."""
    recovery = [c for c in candidates if c.referral is None]
    found = iter(reserve_codes(session, [c.step_offer for c in recovery], now))
    return [None if c.referral is not None else next(found) for c in candidates]


@dataclass(frozen=True)
class NotPaid:
    """The batch's payment check found no order for this checkout (issue 13)."""


#: A code the batch made for a message (`make_codes`), or why Shopify would not make it now (a
#: ReclaimError), or the bug that broke the making.
Made = StepCode | Exception
#: What `ask` answers.
Answer = Cleared | Wait | Skip | PaidElsewhere
#: What the batch's payment check says of one recovery message, handed to `ask`.
Checked = NotPaid | PaidElsewhere | Wait
WAITING = "waiting: the payment check could not reach Shopify ({})"


def ask(
    rt: Runtime,
    candidate: Candidate,
    now: datetime,
    reserved: Reserved | None = None,
    checked: Checked | None = None,
    client: AdminClient | None = None,
    made: Made | None = None,
) -> Answer:
    """`reserved`: the step's code as reserved (`reserve`, or the batch's `reserve_many`) before Shopify is asked.
    `checked`: the batch's payment check for this message (`check_payments`), asked just before; without
    it Shopify is asked here. `client`: the shop's client the batch opened (closed by the batch).
    `made`: the step's code as the batch's request made it (`make_codes`), when it needed making."""
    if candidate.referral is not None:
        return _referral_code(rt, candidate, now)
    if isinstance(checked, Wait | PaidElsewhere):
        return checked
    if isinstance(made, ReclaimError):
        return Wait(now + DISCOUNT_RETRY, f"waiting for the discount code: {made}")
    if isinstance(made, Exception):  # a bug while the batch made its codes: this message's run breaks
        raise made
    if made is not None:  # made by the batch, for a message its payment check found unpaid
        return Cleared(made)
    try:
        opened = client or _client(rt, candidate, now)
    except ADMIN_FAILURES as exc:
        return Wait(now + PAYMENT_CHECK_RETRY, WAITING.format(exc))
    try:
        if checked is None:
            checkout = candidate.cart
            try:
                orders = opened.orders_for_payment_check(
                    checkout.token, checkout.email, checkout.phone, candidate.abandoned_at
                )
            except ADMIN_FAILURES as exc:
                return Wait(now + PAYMENT_CHECK_RETRY, WAITING.format(exc))
            paid = [order for order in orders if order.cancelled_at is None]
            if paid:
                return PaidElsewhere(order_of(paid[0]))
        try:
            return Cleared(code_for(rt.sessions, opened, candidate.step_offer, now, record=False, reserved=reserved))
        except ADMIN_FAILURES as exc:
            return Wait(now + DISCOUNT_RETRY, f"waiting for the discount code: {exc}")
    finally:
        if client is None:
            opened.close()


def check_payments(
    rt: Runtime, candidates: Sequence[Candidate], now: datetime, clients: dict[int, AdminClient]
) -> dict[int, Checked]:
    """The batch's payment check (issue 13): one `orders(query:)` per shop (a few when the batch's
    checkouts exceed the search bounds) for every recovery candidate, asked now, just before the
    batch's sends; by message id, what it says. Shopify unable to answer: every message of that
    shop waits, as a single check would. `clients`: the shops' clients, opened here as needed
    and left open for the sends' discount codes (the caller closes them)."""
    checked: dict[int, Checked] = {}
    by_shop: dict[int, list[Candidate]] = {}
    for candidate in candidates:
        if candidate.referral is None:
            by_shop.setdefault(candidate.shop.id, []).append(candidate)
    for shop_id, group in by_shop.items():
        lookups = [PaymentLookup(c.message_id, c.cart.token, c.cart.email, c.cart.phone, c.abandoned_at) for c in group]
        try:
            if shop_id not in clients:
                clients[shop_id] = _client(rt, group[0], now)
            found = clients[shop_id].orders_for_payment_checks(lookups)
        except ADMIN_FAILURES as exc:
            wait = Wait(now + PAYMENT_CHECK_RETRY, WAITING.format(exc))
            checked.update(dict.fromkeys((c.message_id for c in group), wait))
            continue
        for candidate in group:
            paid = [order for order in found.get(candidate.message_id, ()) if order.cancelled_at is None]
            checked[candidate.message_id] = PaidElsewhere(order_of(paid[0])) if paid else NotPaid()
    return checked


def make_codes(
    candidates: Sequence[tuple[Candidate, Reserved | None]],
    checked: dict[int, Checked],
    clients: dict[int, AdminClient],
    now: datetime,
) -> dict[int, Made]:
    """The batch's unique codes (issue 13), after its payment check: one request per shop for the
    codes of the messages it found unpaid, one code per step (a step's email and push message share
    it), by message id. A request Shopify could not answer leaves each of its messages waiting, as a
    single code would, and a code Shopify refused its message alone; a bug breaks that shop's messages
    that needed a code (their `ask` raises it), not the others."""
    by_shop: dict[int, dict[tuple[int, str], tuple[StepOffer, Reserved, list[int]]]] = {}
    for candidate, reserved in candidates:
        unpaid = isinstance(checked.get(candidate.message_id), NotPaid) and candidate.shop.id in clients
        if unpaid and reserved is not None and needs_creating(offer := candidate.step_offer, reserved):
            steps = by_shop.setdefault(candidate.shop.id, {})
            steps.setdefault((offer.journey_id, offer.step), (offer, reserved, []))[2].append(candidate.message_id)
    made: dict[int, Made] = {}
    for shop_id, steps in by_shop.items():
        wanted = list(steps.values())
        codes: list[Made]
        try:
            codes = list(codes_for(clients[shop_id], [(offer, reserved) for offer, reserved, _ in wanted], now))
        except ADMIN_FAILURES as exc:  # (codes_for answers Shopify's failures per code; this is the rest)
            codes = [exc if isinstance(exc, ReclaimError) else AdminApiUnavailable(describe(exc))] * len(wanted)
        except Exception as bug:  # noqa: BLE001 -- raised again by `ask`, for each of these messages alone
            codes = [bug] * len(wanted)
        for (_, _, message_ids), code in zip(wanted, codes, strict=True):
            made.update(dict.fromkeys(message_ids, code))
    return made


def record_codes(session: Session, candidates: Sequence[Candidate], made: dict[int, Made]) -> dict[int, Made]:
    """The Shopify ids of the codes the batch made, recorded in `session` in one statement; `made` as the
    claims then see it (nothing left for them to record)."""
    new = {key: code for key, code in made.items() if isinstance(code, StepCode) and code.created}
    offers = {c.message_id: c.step_offer for c in candidates if c.message_id in new}  # recovery messages only
    steps = {(offers[key].journey_id, offers[key].step): (offers[key], code.created) for key, code in new.items()}
    record_many(session, list(steps.values()))
    return {**made, **{key: replace(code, created=None) for key, code in new.items()}}


def _referral_code(rt: Runtime, candidate: Candidate, now: datetime) -> Cleared | Wait | Skip:
    """The invite's personal code or the reward's code (None for the other steps, and for a
    reward cancelled meanwhile: compose refuses it); Skip for a reward refused by Shopify's count."""
    referral = candidate.referral
    assert referral is not None
    try:
        if candidate.step is Step.REWARD:
            issued = issue_reward(rt, candidate.message_id, now, RewardTerms.of(candidate.settings.referral))
            if isinstance(issued, RewardRefused):
                return Skip(issued.reason)
            return Cleared(StepCode(issued[0].code, issued[1]) if issued else None)
        if candidate.step in (Step.REVIEW, Step.SOCIAL):
            return Cleared(_thank_you_code(rt, candidate, now))
        if candidate.step is not Step.INVITE or referral.advocate_id is None:
            return Cleared(None)
        with _client(rt, candidate, now) as client:
            code = advocate_code(rt.sessions, client, referral.advocate_id, now,
                                 first_name=candidate.contact.first_name, percent=referral.friend_percent)  # fmt: skip
        return Cleared(StepCode(code.code, None))
    except ADMIN_FAILURES as exc:
        return Wait(now + DISCOUNT_RETRY, f"waiting for the referral code: {exc}")


def _thank_you_code(rt: Runtime, candidate: Candidate, now: datetime) -> StepCode | None:
    """The step's incentive code when the settings give it one. Not for WhatsApp: the step's
    approved template has no place for a code, and a code made for nobody to read is not made."""
    incentive = candidate.settings.referral.step(candidate.step).incentive
    if incentive is None or candidate.channel is Channel.WHATSAPP:
        return None
    with _client(rt, candidate, now) as client:
        issued, ends_at = step_code_for(rt.sessions, client, candidate.journey_id, candidate.step.value, incentive, now)
    return StepCode(issued.code, ends_at)


def _client(rt: Runtime, candidate: Candidate, now: datetime) -> AdminClient:
    """The shop's Admin API client, with the token the send job's read found when it is usable."""
    return open_admin_client(rt.sessions, rt.box, rt.settings, candidate.shop.id, now, rt.admin_sleep, candidate.token)


def order_of(found: OrderSummary) -> Order:
    """An Admin API order summary as the domain's order (ids without their gid:// prefix)."""
    return Order(
        shopify_id=found.id.rsplit("/", 1)[-1],
        name=found.name,
        created_at=found.created_at,
        checkout_token=found.checkout_token,
        email=found.email,
        customer_id=found.customer_id.rsplit("/", 1)[-1] if found.customer_id else None,
        financial_status=(found.financial_status or "").lower() or None,
        currency=found.currency_code,
        total_price=found.total,
    )
