"""Discount memory (issue 12, offer discipline), through the webhook routes, the dispatcher and the
send worker against the development Admin API: a person sent a recovery code in the last 30 days
gets their next journeys' messages without one, and no code is created for them."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from shop_app.domain.settings import ShopSettings
from shop_app.domain.validation import ValidationError

#: A unique 10 % code on the first step (and the WhatsApp reminder, which repeats it); no Prime.
UNIQUE_FIRST = {
    "recovery": {
        "first": {"incentive": {"type": "percentage", "value": 10, "code_mode": "unique"}},
        "prime": {"enabled": False},
    },
}
ANA = {"email": "ana@example.com", "phone": "+34600111222", "customer": {"id": 7001, "first_name": "Ana"}}
#: The same person by email only: another phone, no customer account.
ANA_BY_EMAIL = {"email": "ana@example.com", "phone": "+34600333444", "customer": None}
BEA = {"email": "bea@example.com", "phone": "+34600555666", "customer": {"id": 7002, "first_name": "Bea"}}

DAY0 = datetime.fromisoformat("2026-03-02T10:00:00+01:00")  # Monday, 10:00 in Madrid


def abandon(store, token: str, at: datetime, who: dict) -> None:
    store.deliver("checkouts/create", store.checkout(token, at.isoformat(), **who))


def run_journey(store, token: str, at: datetime, who: dict) -> list[dict]:
    """Abandon at `at` and run the first step (after 1 h) and the WhatsApp reminder (after 2 h)."""
    abandon(store, token, at, who)
    store.tick(at + timedelta(hours=1))
    store.tick(at + timedelta(hours=2))
    rows = store.messages(checkout_token=token)
    assert {row["status"] for row in rows} == {"sent"}, rows
    return rows


def reasons(rows: list[dict]) -> dict[str, str | None]:
    return {row["step"]: row["reason"] for row in rows}


MEMORY = "no discount: one was sent to this customer {} (discount memory: {} days)"


def sent_to(store, token: str) -> list[dict]:
    """What went out for the checkout `token`, as the development transport recorded it."""
    ids = {row["id"] for row in store.messages(checkout_token=token)}
    return [m for m in store.outbox() if m["message_id"] in ids]


def codes(store) -> list[str]:
    return [discount.code for discount in store.admin_api.discounts(store.domain)]


def says_nothing_of_a_code(text: str) -> bool:
    lowered = text.lower()
    return "code" not in lowered and "10% off" not in lowered and "/discount/" not in lowered


def test_a_second_abandonment_within_30_days_gets_no_new_code_and_one_after_31_days_does(store):
    store.set_settings(UNIQUE_FIRST)
    first = run_journey(store, "c1", DAY0, ANA)
    assert len(codes(store)) == 2  # the first step's and the WhatsApp reminder's
    assert all(row["reason"] is None for row in first)
    for message in sent_to(store, "c1"):
        assert any(code in message["body"] for code in codes(store)), message

    # Ten days later the same person (same email; another phone, no account) abandons again.
    again = run_journey(store, "c2", DAY0 + timedelta(days=10), ANA_BY_EMAIL)
    assert len(codes(store)) == 2  # nothing was created through the Admin API
    # c1's last code was its WhatsApp reminder's, 9 days 23 hours before c2's first step.
    assert reasons(again) == {"first": MEMORY.format("9 days ago", 30), "whatsapp": MEMORY.format("10 days ago", 30)}
    sent = sent_to(store, "c2")
    assert sorted(m["channel"] for m in sent) == ["email", "whatsapp"]
    for message in sent:
        assert says_nothing_of_a_code(message["body"]) and says_nothing_of_a_code(message.get("subject") or "")
        assert says_nothing_of_a_code(message.get("html") or "")
    [email] = [m for m in sent if m["channel"] == "email"]
    assert store.links(email["body"]) == ["https://demo-shop.myshopify.com/71234/checkouts/ac/c2/recover?key=k1"]

    # 31 days after c1's code: a code again (c2 sent none, so it does not extend the memory).
    later = run_journey(store, "c3", DAY0 + timedelta(days=31), ANA)
    assert len(codes(store)) == 4
    assert all(row["reason"] is None for row in later)
    [email] = [m for m in sent_to(store, "c3") if m["channel"] == "email"]
    [code] = [code for code in codes(store)[2:] if code in email["body"]]
    assert "10% off" in email["body"]
    assert f"https://demo-shop.myshopify.com/discount/{code}?redirect=" in store.links(email["body"])[0]


def test_the_memory_matches_by_customer_id_or_phone_and_leaves_other_people_alone(store):
    store.set_settings(UNIQUE_FIRST)
    run_journey(store, "c1", DAY0, ANA)
    # Someone else the same day: a code of their own.
    run_journey(store, "bea", DAY0 + timedelta(hours=3), BEA)
    assert len(codes(store)) == 4
    # Ana's customer account with another email and phone; then her phone alone.
    by_account = {"email": "ana.work@example.com", "phone": "+34600777888", "customer": {"id": 7001}}
    by_phone = {"email": "ana.other@example.com", "phone": "+34600111222", "customer": None}
    for token, who in (("by-account", by_account), ("by-phone", by_phone)):
        rows = run_journey(store, token, DAY0 + timedelta(days=2), who)
        assert reasons(rows) == {"first": MEMORY.format("1 day ago", 30), "whatsapp": MEMORY.format("2 days ago", 30)}
    assert len(codes(store)) == 4


def test_the_memory_follows_the_setting_and_zero_turns_it_off(store):
    store.set_settings({"recovery": {**UNIQUE_FIRST["recovery"], "discount_memory_days": 7}})
    run_journey(store, "c1", DAY0, ANA)
    rows = run_journey(store, "c2", DAY0 + timedelta(days=6, hours=23), ANA)  # 6 days 22 hours after c1's last
    assert reasons(rows) == {"first": MEMORY.format("6 days ago", 7), "whatsapp": MEMORY.format("6 days ago", 7)}
    assert len(codes(store)) == 2
    run_journey(store, "c3", DAY0 + timedelta(days=8), ANA)  # c1's code went 8 days ago
    assert len(codes(store)) == 4

    store.set_settings({"recovery": {**UNIQUE_FIRST["recovery"], "discount_memory_days": 0}})
    rows = run_journey(store, "c4", DAY0 + timedelta(days=8, hours=3), ANA)
    assert all(row["reason"] is None for row in rows)
    assert len(codes(store)) == 6


def test_a_code_reserved_but_never_sent_is_not_remembered(store):
    """The customer paid before the first step: its message was skipped, nothing was received."""
    store.set_settings(UNIQUE_FIRST)
    abandon(store, "paid", DAY0, ANA)
    store.admin_api.add_order(store.domain, checkout_token="paid", email="ana@example.com",
                              created_at=DAY0 + timedelta(minutes=30), total="84.90")  # fmt: skip
    store.tick(DAY0 + timedelta(hours=1))
    assert store.message(checkout_token="paid", step="first")["status"] == "skipped"
    rows = run_journey(store, "c2", DAY0 + timedelta(days=1), ANA)
    assert all(row["reason"] is None for row in rows)
    assert len(codes(store)) == 2


def test_a_shared_code_is_remembered_too(store):
    store.set_settings(
        {
            "recovery": {
                "first": {"incentive": {"type": "free_shipping", "code": "SHIPFREE"}},
                "prime": {"enabled": False},
            }
        }
    )
    run_journey(store, "c1", DAY0, ANA)
    assert all("SHIPFREE" in m["body"] for m in sent_to(store, "c1"))
    run_journey(store, "c2", DAY0 + timedelta(days=3), ANA)
    assert all("SHIPFREE" not in m["body"] and says_nothing_of_a_code(m["body"]) for m in sent_to(store, "c2"))


@pytest.mark.parametrize("value", [-1, 366, 1.5, "30", True, None])
def test_the_setting_is_a_whole_number_of_days_from_0_to_365(value):
    with pytest.raises(ValidationError) as refused:
        ShopSettings.from_document({"recovery": {"discount_memory_days": value}}, shop_timezone="Europe/Madrid")
    assert [error.field for error in refused.value.errors] == ["recovery.discount_memory_days"]


def test_the_setting_defaults_to_30_and_round_trips():
    settings = ShopSettings.defaults("Europe/Madrid")
    assert settings.discount_memory_days == 30
    document = settings.to_document()
    assert document["recovery"]["discount_memory_days"] == 30
    document["recovery"]["discount_memory_days"] = 365
    again = ShopSettings.from_document(document, shop_timezone="Europe/Madrid")
    assert again.discount_memory_days == 365 and again.to_document() == document
