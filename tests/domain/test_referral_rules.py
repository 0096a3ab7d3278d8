"""The referral fraud rules (issue 11): table-driven cases and a property."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shop_app.domain.referral_rules import (
    ALREADY_COUNTED,
    CAP_REACHED,
    ORDERED_BEFORE,
    SELF_REFERRAL,
    AdvocateFacts,
    FriendFacts,
    codes_used,
    decide,
    facts,
    friend_facts,
    normal_email,
    normal_phone,
    same_phone,
)

# Shipping addresses reach the rules as their keys (orders.shipping_address_key), never as text.
HOME = "0f" * 32
ADVOCATE = facts(
    "1001",
    emails=["Ana.Lopez@gmail.com", "ana@work.example"],
    phones=["+34 600 111 222"],
    addresses=[HOME],
)
STRANGER = friend_facts("2002", "bea@example.com", "+34 699 000 111", "a1" * 32)


def friend(**changes: object) -> FriendFacts:
    values = {**STRANGER.__dict__, **changes}
    return FriendFacts(**values)  # type: ignore[arg-type]


CASES = [
    # (label, friend, rewards in the window, cap, rule, words in the reason)
    ("a new friend", STRANGER, 0, 10, None, "first paid order"),
    ("just under the cap", STRANGER, 9, 10, None, "first paid order"),
    ("same customer id", friend(customer_id="1001"), 0, 10, SELF_REFERRAL, "same customer"),
    ("same email", friend(email=normal_email("ana@work.example")), 0, 10, SELF_REFERRAL, "same email"),
    ("same email, other spelling", friend(email=normal_email("ANALOPEZ+x@gmail.com")), 0, 10, SELF_REFERRAL, "email"),
    ("same phone", friend(phone=normal_phone("+34600111222")), 0, 10, SELF_REFERRAL, "same phone"),
    ("same phone, national spelling", friend(phone=normal_phone("600-111-222")), 0, 10, SELF_REFERRAL, "phone"),
    (
        "same shipping address",
        friend(address=HOME),
        0,
        10,
        SELF_REFERRAL,
        "the friend's shipping address is the advocate's",
    ),
    ("ordered before", friend(ordered_before=True), 0, 10, ORDERED_BEFORE, "ordered before"),
    ("already counted", friend(already_counted=True), 0, 10, ALREADY_COUNTED, "already counted"),
    ("cap reached", STRANGER, 10, 10, CAP_REACHED, "reached 10 rewards in 30 days"),
    ("a cap of 0 rewards nobody", STRANGER, 0, 0, CAP_REACHED, "reached 0 rewards"),
    ("self before history", friend(email="ana@work.example", ordered_before=True), 0, 10, SELF_REFERRAL, "email"),
    ("history before count", friend(ordered_before=True, already_counted=True), 10, 10, ORDERED_BEFORE, "before"),
]


@pytest.mark.parametrize(("label", "friend_", "count", "cap", "rule", "words"), CASES, ids=[c[0] for c in CASES])
def test_rules(label: str, friend_: FriendFacts, count: int, cap: int, rule: str | None, words: str) -> None:
    decision = decide(ADVOCATE, friend_, count, cap)
    assert decision.reward is (rule is None)
    assert decision.rule == rule
    assert words in decision.reason
    assert decision.reward or decision.reason.startswith("refused: ")


def test_a_friend_without_contact_details_is_not_the_advocate() -> None:
    assert decide(ADVOCATE, FriendFacts(), 0).reward
    assert decide(AdvocateFacts(), FriendFacts(), 0).reward


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError):
        decide(ADVOCATE, STRANGER, -1)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Ana.Lopez+promo@GMail.com", "analopez@gmail.com"),
        (" a.b@example.com ", "a.b@example.com"),
        ("no-at-sign", None),
        (None, None),
        ("@example.com", None),
    ],
)
def test_normal_email(raw: str | None, normal: str | None) -> None:
    assert normal_email(raw) == normal


def test_phones() -> None:
    assert normal_phone("+34 600-111 222") == "+34600111222"
    assert normal_phone("12345") is None
    assert same_phone("+34600111222", "0600111222")
    assert not same_phone("+34600111222", "+34600111223")
    assert not same_phone("+3411122", "22")  # too short to be a national spelling


# --- property ---------------------------------------------------------------------------------

identity = st.fixed_dictionaries({
    "customer_id": st.one_of(st.none(), st.from_regex(r"[1-9][0-9]{0,8}", fullmatch=True)),
    "email": st.one_of(st.none(), st.emails().map(normal_email)),
    "phone": st.one_of(st.none(), st.from_regex(r"\+[1-9][0-9]{7,12}", fullmatch=True)),
    "address": st.one_of(st.none(), st.from_regex(r"[0-9a-f]{64}", fullmatch=True)),
})  # fmt: skip


@given(
    advocate=identity,
    friend_=identity,
    shared=st.sampled_from(["customer_id", "email", "phone", "address", None]),
    ordered_before=st.booleans(),
    already_counted=st.booleans(),
    count=st.integers(0, 30),
    cap=st.integers(0, 20),
)
def test_a_reward_needs_every_rule_to_pass(
    advocate: dict, friend_: dict, shared: str | None, ordered_before: bool, already_counted: bool, count: int, cap: int
) -> None:
    if shared is not None and advocate[shared] is not None:
        friend_ = {**friend_, shared: advocate[shared]}  # the friend shares one detail with the advocate
    advocate_facts = facts(advocate["customer_id"], [advocate["email"]], [advocate["phone"]], [advocate["address"]])
    friend_facts_ = FriendFacts(**friend_, ordered_before=ordered_before, already_counted=already_counted)
    decision = decide(advocate_facts, friend_facts_, count, cap)
    is_self = (
        any(friend_[key] is not None and friend_[key] == advocate[key] for key in ("customer_id", "email", "address"))
        or (friend_["phone"] is not None and advocate["phone"] is not None
            and same_phone(friend_["phone"], advocate["phone"]))
    )  # fmt: skip
    assert decision.reward is not (is_self or ordered_before or already_counted or count >= cap)
    if is_self:
        assert decision.rule == SELF_REFERRAL
    # Deciding twice gives the same answer: the rules read nothing but their arguments.
    assert decide(advocate_facts, friend_facts_, count, cap) == decision


def test_what_an_order_payload_says() -> None:
    payload = {"discount_codes": [{"code": " ana-7kq2m9 ", "amount": "5.00"}, {"code": ""}, "junk", {"code": 7}]}
    assert codes_used(payload) == {"ANA-7KQ2M9"}
    assert codes_used({"discount_codes": None}) == frozenset() and codes_used([]) == frozenset()
