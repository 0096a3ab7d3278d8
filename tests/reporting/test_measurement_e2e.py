"""The results report end to end (issue 12): signed webhooks over the real routes, the real worker
and simulated time, then `reclaim report --json`. A 50 % holdout; one treated and one control
checkout abandoned at 18:00 UTC on 2 March (Madrid); the treated one's first email goes out at
19:00 UTC and is clicked, and each pays its own checkout: the treated order is credited, the
control one converts its journey without a message, so the lift is nothing, with a wide interval."""

from __future__ import annotations

import json

from click.testing import CliRunner

from shop_app.cli.commands import main
from tests.recovery.test_holdout_flow import ABANDONED, abandon, pick, put_settings
from tests.support import ShopifyStore

FIRST_SEND = "2026-03-02T19:00:00+00:00"
MONEY = {
    "total_price": "84.90",
    "currency": "EUR",
    "presentment_currency": "USD",
    "total_price_set": {
        "shop_money": {"amount": "84.90", "currency_code": "EUR"},
        "presentment_money": {"amount": "92.30", "currency_code": "USD"},
    },
}


def pay(store: ShopifyStore, order_id: int, checkout: dict, at: str) -> None:
    """orders/paid for `checkout` (its token and person), 84.90 EUR in the shop's money."""
    person = {key: checkout[key] for key in ("email", "phone", "customer")}
    payload = store.order(checkout["token"], at, id=order_id, name=f"#{order_id}", **person, **MONEY)
    store.deliver("orders/paid", payload)


def tracked_links(store: ShopifyStore, body: str) -> list[str]:
    app = store.rt.settings.shopify_app_url
    words = (word.strip("()<>\"'") for word in body.split())
    return [word.removeprefix(app) for word in words if word.startswith(app + "/c/")]


def test_webhooks_worker_and_ticks_give_the_report(rt, client, store):
    put_settings(rt, store, client, {"holdout_percent": 50})
    treated = abandon(store, pick(rt, control_at=50, control=False, prefix="t"), ABANDONED)
    control = abandon(store, pick(rt, control_at=50, control=True, prefix="c"), ABANDONED)
    store.tick(FIRST_SEND)
    email = store.message(checkout_token=treated["token"], step="first", channel="email")
    assert email["status"] == "sent", email["reason"]
    held = store.message(checkout_token=control["token"], step="first", channel="email")
    assert (held["status"], held["reason"]) == ("skipped", "holdout (control group)")
    assert client.get(tracked_links(store, email["body"])[0]).status_code == 302
    pay(store, 7001, treated, "2026-03-02T22:00:00+01:00")  # 2 h after the email
    pay(store, 7002, control, "2026-03-03T10:00:00+01:00")  # 14 h after its email would have gone

    result = CliRunner().invoke(
        main, ["report", "--shop", store.domain, "--from", "2026-03-02", "--to", "2026-03-02", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert {k: report[k] for k in ("shop", "from", "to", "currency", "abandoned", "reachable", "journeys")} == {
        "shop": store.domain, "from": "2026-03-02", "to": "2026-03-02", "currency": "EUR",
        "abandoned": 2, "reachable": 2, "journeys": {"treated": 1, "control": 1},
    }  # fmt: skip
    first_email = [s for s in report["by_step"] if (s["step"], s["channel"]) == ("first", "email")]
    # The development email transport says "sent"; the click moved the delivery status on: it arrived.
    assert first_email == [
        {"flow": "recovery", "step": "first", "channel": "email", "sent": 1, "delivered": 1, "clicked": 1,
         "recovered_orders": 1, "recovered_revenue": "84.90"},
    ]  # fmt: skip
    assert all(s["sent"] >= 1 and s["recovered_orders"] == 0 for s in report["by_step"] if s not in first_email)
    assert (report["recovered"], report["recovery_rate"], report["control_conversion_rate"]) == (
        {"orders": 1, "revenue": "84.90"}, 1.0, 1.0
    )  # fmt: skip
    # 1/1 − 1/1 = 0. Wilson 1/1: centre (1 + 1.920729)/4.841459 = 0.603275, half 1.959964 × √0.960365
    # / 4.841459 = 0.396725 → (0.206549, 1); low = 0 − √((1 − 0.206549)² + 0) = −0.793451, high +0.793451.
    assert report["incremental"] == {
        "orders": 0.0, "revenue": "0.00", "rate_low": -0.7935, "rate_high": 0.7935, "conclusive": False
    }  # fmt: skip
    assert report["daily"] == [{"date": "2026-03-02", "abandoned": 2, "recovered_orders": 1,
                                "recovered_revenue": "84.90"}]  # fmt: skip
    assert report["previous"] == {"abandoned": 0, "recovered": {"orders": 0, "revenue": "0.00"}, "recovery_rate": None}
