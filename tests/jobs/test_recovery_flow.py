"""The recovery spine end to end: signed webhooks over the real routes, real Redis,
a real database, and simulated time driven through the dispatcher tick."""

from __future__ import annotations

ABANDONED = "2026-03-02T19:00:00+01:00"  # a Monday evening in Madrid


def test_first_stimulus_sends_email_after_one_hour_with_link_and_cart(store):
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    planned = store.messages()
    assert {(m["step"], m["channel"]) for m in planned} == {
        ("first", "email"),
        ("whatsapp", "whatsapp"),
        ("prime", "sms"),
        ("prime", "whatsapp"),
    }
    assert store.message(step="first")["due_at"] == "2026-03-02T19:00:00+00:00"  # 19:00 UTC = 20:00 Madrid

    store.tick("2026-03-02T18:59:00+00:00")
    assert store.outbox() == []
    store.tick("2026-03-02T19:00:00+00:00")
    sent = store.outbox()
    assert [m["channel"] for m in sent] == ["email"]
    assert sent[0]["to"] == "ana@example.com"
    assert "Demo Shop" in sent[0]["subject"]
    assert "https://demo-shop.myshopify.com/71234/checkouts/ac/c1/recover?key=k1" in sent[0]["body"]
    assert "1 × Linen shirt (M / Sand)" in sent[0]["body"] and "84.90 EUR" in sent[0]["body"]
    assert store.message(step="first")["status"] == "sent"
