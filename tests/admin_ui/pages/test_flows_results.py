"""/flows' Revenue Recovery results are the report's (shop_app/reporting/measurement.py) for the 15
days ending today, as `GET /api/report?days=15` gives them: per step (its channels added up) and per
step and channel, the messages sent, delivered and clicked and the orders credited; then the
abandoned checkouts, recovered orders, revenue and recovery rate. Hand-computed rows."""

from __future__ import annotations

import re
from html import unescape

from shop_app.shopify.shops import get_shop
from shop_app.storage.database import transaction
from tests.admin_ui.conftest import SHOP_A
from tests.admin_ui.pages.test_flows import page, text_of
from tests.admin_ui.pages.test_home import ago, api
from tests.reporting.rows import Rows


def story(rows: Rows) -> None:
    """J1 (3 days ago): an email delivered and clicked, a push with no receipt, a Prime SMS delivered,
    then an order by the same email credited 30.00 to the SMS. J2 (4 days ago): an email that bounced,
    a WhatsApp read and clicked, nothing ordered. J3 (20 days ago): an email, before the 15 days."""
    j1 = rows.journey(ago(days=3), token="flows-j1", email="j1@example.com")
    email = rows.message(
        j1, "first", "email", status="sent", sent_at=ago(days=3, hours=-1), delivery_status="delivered"
    )
    rows.click(email, ago(days=3, hours=-2))
    rows.message(j1, "first", "push", status="sent", sent_at=ago(days=3, hours=-1))
    sms = rows.message(j1, "prime", "sms", status="sent", sent_at=ago(days=2), delivery_status="delivered")
    rows.credit(rows.order(ago(days=2, hours=-1), "30.00", email="j1@example.com"), j1, sms)
    j2 = rows.journey(ago(days=4), token="flows-j2")
    rows.message(j2, "first", "email", status="sent", sent_at=ago(days=4, hours=-1), delivery_status="bounced")
    whatsapp = rows.message(j2, "whatsapp", "whatsapp", status="sent", sent_at=ago(days=4, hours=-6),
                            delivery_status="read")  # fmt: skip
    rows.click(whatsapp, ago(days=4, hours=-7))
    rows.message(j2, "prime", "sms", status="skipped", due_at=ago(days=2))
    j3 = rows.journey(ago(days=20), token="flows-j3")
    rows.message(j3, "first", "email", status="sent", sent_at=ago(days=20, hours=-1), delivery_status="delivered")


def channel_rows(html: str) -> dict[str, list[str]]:
    found = re.findall(r'<s-table-row data-step="([\w.]+)">(.*?)</s-table-row>', html, re.S)
    return {
        key: [
            unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<s-table-cell>(.*?)</s-table-cell>", row, re.S)
        ]
        for key, row in found
    }


def test_flows_shows_the_reports_counts_per_step_and_channel(rt, client, store, sign_in):
    with transaction(rt.sessions) as session:
        story(Rows(session, get_shop(session, SHOP_A)))
    doc = api(client, sign_in)
    assert [(s["step"], s["channel"], s["sent"], s["delivered"], s["clicked"], s["recovered_orders"],
             s["recovered_revenue"]) for s in doc["by_step"]] == [
        ("first", "email", 2, 1, 1, 0, "0.00"),
        ("first", "push", 1, 0, 0, 0, "0.00"),
        ("whatsapp", "whatsapp", 1, 1, 1, 0, "0.00"),
        ("prime", "sms", 1, 1, 0, 1, "30.00"),
    ]  # fmt: skip
    html = page(client, sign_in, "/flows")
    # Per step, its channels added up: sent, delivered, clicked, recovered orders.
    assert text_of(html, "step-first").endswith(" 3 1 1 0")
    assert text_of(html, "step-whatsapp").endswith(" 1 1 1 0")
    assert text_of(html, "step-prime").endswith(" 1 1 0 1")
    assert channel_rows(html) == {
        f"{s['step']}.{s['channel']}": [
            label, str(s["sent"]), str(s["delivered"]), str(s["clicked"]), str(s["recovered_orders"]),
            f"{s['recovered_revenue']} EUR",
        ]
        for s, label in zip(doc["by_step"], ["First reminder by email", "First reminder by push",
                                             "WhatsApp step by WhatsApp", "Prime by SMS"], strict=True)
    }  # fmt: skip
    assert (doc["abandoned"], doc["recovered"], doc["recovery_rate"]) == (2, {"orders": 1, "revenue": "30.00"}, 0.5)
    assert text_of(html, "flow-recovery-results") == (
        "Abandoned checkouts 2 Recovered orders 1 Recovered revenue 30.00 EUR Recovery rate 50.0 %"
    )
