"""The SMS segment cap at send time: real customer data can make a text longer than the sample did."""

from __future__ import annotations

ABANDONED = "2026-03-02T12:00:00+01:00"
PRIME_RELEASED = "2026-03-03T08:00:00+00:00"
ONLY_SMS = {
    "recovery": {
        "first": {"enabled": False},
        "whatsapp": {"enabled": False},
        "prime": {"incentive": {"type": "percentage", "value": 15, "code": "PRIME15"}},
    }
}


def items(titles):
    return [{"title": t, "variant_title": None, "quantity": 1, "price": "10.00", "line_price": "10.00"} for t in titles]


def test_an_accented_name_is_spelled_in_gsm7_and_the_sms_still_goes_out(store):
    store.set_settings(ONLY_SMS)
    store.deliver(
        "checkouts/create",
        store.checkout(
            "c1",
            ABANDONED,
            customer={
                "id": 7001,
                "email": "lucia@example.com",
                "phone": "+34600111222",
                "first_name": "Lucía",
                "last_name": "R",
            },
        ),
    )
    store.tick(PRIME_RELEASED)
    sms = store.message(channel="sms")
    assert sms["status"] == "sent", sms
    [sent] = [m for m in store.outbox() if m["channel"] == "sms"]
    assert "Lucia" in sent["body"] and "Lucía" not in sent["body"]
    assert sms["reason"]  # says what was changed to fit


def test_an_sms_that_cannot_fit_the_cap_is_skipped_with_the_count(store):
    store.set_settings(ONLY_SMS)
    titles = [f"Шерстяное одеяло ручной работы номер {n}" for n in range(1, 9)]
    name = "Анастасия-Александра Владимировна"  # no GSM-7 spelling: the whole SMS stays UCS-2 (67 a segment)
    store.deliver(
        "checkouts/create",
        store.checkout(
            "c1",
            ABANDONED,
            line_items=items(titles),
            customer={
                "id": 7001,
                "email": "a@example.com",
                "phone": "+34600111222",
                "first_name": name,
                "last_name": "Р",
            },
        ),
    )
    store.tick(PRIME_RELEASED)
    sms = store.message(channel="sms")
    assert sms["status"] == "skipped"
    assert sms["reason"].startswith("not sent: SMS is ") and "segments" in sms["reason"] and "cap is 3" in sms["reason"]
    assert [m for m in store.outbox() if m["channel"] == "sms"] == []
