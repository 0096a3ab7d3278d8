"""The results report (issue 12, point 3), hand-computed: a shop's known journeys (treated and
control), messages, delivery and click rows, orders and attribution rows give exactly the expected
JSON document, the incremental interval included (the arithmetic is in the comments)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from click.testing import CliRunner

from shop_app.cli.commands import main
from shop_app.domain.holdout import REASON as HOLDOUT
from shop_app.reporting.measurement import BadRange, measure, parse_range, to_json
from shop_app.shopify.shops import install_shop, load_settings, save_settings
from shop_app.storage.database import transaction
from shop_app.storage.tables import Shop
from tests.reporting.rows import Rows, at
from tests.tokens import session_token

DOMAIN = "measure-shop.myshopify.com"
OTHER = "other-measure-shop.myshopify.com"
NOW = at("2026-11-20T18:00:00+00:00")
FROM, TO = date(2026, 11, 16), date(2026, 11, 20)  # five UTC days; the previous range is 11 … 15 November


def story(main: Rows, other: Rows) -> None:
    """The shop's journeys; attribution_days is the default 5."""
    # T1: paid its own checkout 4 h after the first email (delivered, clicked): credited 100.00 to first/email.
    t1 = main.journey("2026-11-16T10:00:00+00:00", token="t1", email="a@example.com")
    t1_email = main.message(t1, "first", "email", status="sent", sent_at="2026-11-16T11:00:00+00:00",
                            delivery_status="delivered")  # fmt: skip
    main.click(t1_email, "2026-11-16T11:30:00+00:00", clicks=3)
    main.message(t1, "prime", "sms", status="sent", sent_at="2026-11-17T10:00:00+00:00", delivery_status="sent")
    main.credit(main.order("2026-11-16T15:00:00+00:00", "100.00", checkout_token="t1"), t1, t1_email)
    # T2: the same email orders on 21 Nov, after the range but 4 d 20 h after the first email: credited 60.00,
    # counted in this range (an order counts toward the journey it is credited to).
    t2 = main.journey("2026-11-16T12:00:00+00:00", token="t2", email="b@example.com")
    t2_email = main.message(t2, "first", "email", status="sent", sent_at="2026-11-16T13:00:00+00:00",
                            delivery_status="delivered")  # fmt: skip
    main.credit(main.order("2026-11-21T09:00:00+00:00", "60.00", email="b@example.com"), t2, t2_email)
    # T3: bounced; the same email orders 7 days later (outside the window): nobody's. Another shop's order
    # by the same email inside the window converts nothing here.
    t3 = main.journey("2026-11-17T09:00:00+00:00", token="t3", email="c@example.com")
    main.message(t3, "first", "email", status="sent", sent_at="2026-11-17T10:00:00+00:00", delivery_status="bounced")
    main.order("2026-11-24T09:00:00+00:00", "70.00", email="c@example.com")
    other.order("2026-11-18T09:00:00+00:00", "70.00", email="c@example.com")
    # T4: paid its checkout after the SMS, credited 40.00 to prime/sms, then cancelled and refunded: removed.
    t4 = main.journey("2026-11-18T08:00:00+00:00", token="t4", email="d@example.com")
    t4_email = main.message(t4, "first", "email", status="sent", sent_at="2026-11-18T09:00:00+00:00",
                            delivery_status="opened")  # fmt: skip
    main.click(t4_email, "2026-11-18T09:05:00+00:00")
    t4_sms = main.message(t4, "prime", "sms", status="sent", sent_at="2026-11-19T08:00:00+00:00",
                          delivery_status="delivered")  # fmt: skip
    cancelled = main.order("2026-11-19T10:00:00+00:00", "40.00", checkout_token="t4", refunded="40.00")
    main.credit(cancelled, t4, t4_sms, status="removed")
    # T5: treated, its first email still scheduled (after the range); T6: no message planned (unreachable).
    t5 = main.journey("2026-11-18T20:00:00+00:00", token="t5", email="e@example.com")
    main.message(t5, "first", "email", due_at="2026-11-21T20:00:00+00:00")
    main.journey("2026-11-19T10:00:00+00:00", token="t6")
    # Control: C1 pays its own checkout 6 h after its first email would have gone: converted, credited nothing.
    c1 = main.journey("2026-11-17T11:00:00+00:00", token="c1", email="f@example.com", holdout=True)
    main.message(c1, "first", "email", status="skipped", due_at="2026-11-17T12:00:00+00:00", reason=HOLDOUT)
    main.order("2026-11-17T18:00:00+00:00", "55.00", checkout_token="c1")
    # C2 orders by email before its first message would have gone: not converted. C3: no order.
    c2 = main.journey("2026-11-19T14:00:00+00:00", token="c2", email="g@example.com", holdout=True)
    main.message(c2, "first", "email", status="skipped", due_at="2026-11-19T15:00:00+00:00", reason=HOLDOUT)
    main.order("2026-11-19T14:30:00+00:00", "25.00", email="g@example.com")
    c3 = main.journey("2026-11-20T09:00:00+00:00", token="c3", email="h@example.com", holdout=True)
    main.message(c3, "first", "email", status="skipped", due_at="2026-11-20T10:00:00+00:00", reason=HOLDOUT)
    # Previous range: P1 credited 30.00, P2 emailed, nothing: 1 of 2 treated.
    p1 = main.journey("2026-11-12T10:00:00+00:00", token="p1")
    p1_email = main.message(p1, "first", "email", status="sent", sent_at="2026-11-12T11:00:00+00:00")
    main.credit(main.order("2026-11-12T12:00:00+00:00", "30.00", checkout_token="p1"), p1, p1_email)
    p2 = main.journey("2026-11-14T10:00:00+00:00", token="p2")
    main.message(p2, "first", "email", status="sent", sent_at="2026-11-14T11:00:00+00:00")
    # After the range (21 Nov, 00:30): not in it, whatever it was credited.
    late = main.journey("2026-11-21T00:30:00+00:00", token="late")
    late_email = main.message(late, "first", "email", status="sent", sent_at="2026-11-21T01:00:00+00:00")
    main.credit(main.order("2026-11-21T02:00:00+00:00", "999.00", checkout_token="late"), late, late_email)
    # Another shop's journey in the range, credited: never in this shop's report.
    o1 = other.journey("2026-11-16T10:00:00+00:00", token="t1", email="a@example.com")
    o1_email = other.message(o1, "first", "email", status="sent", sent_at="2026-11-16T11:00:00+00:00",
                             delivery_status="delivered")  # fmt: skip
    other.credit(other.order("2026-11-16T12:00:00+00:00", "500.00", checkout_token="t1"), o1, o1_email)


EXPECTED = {
    "shop": DOMAIN,
    "from": "2026-11-16",
    "to": "2026-11-20",
    "currency": "USD",
    "abandoned": 9,  # T1-T6, C1-C3
    "reachable": 8,  # all but T6
    "journeys": {"treated": 5, "control": 3},
    "by_step": [
        # first/email sent by T1-T4; delivered: T1, T2, T4 (opened counts; T3 bounced); clicked: T1, T4.
        {"flow": "recovery", "step": "first", "channel": "email", "sent": 4, "delivered": 3, "clicked": 2,
         "recovered_orders": 2, "recovered_revenue": "160.00"},
        # prime/sms sent by T1 (only "sent" so far) and T4 (delivered); T4's credit was removed.
        {"flow": "recovery", "step": "prime", "channel": "sms", "sent": 2, "delivered": 1, "clicked": 0,
         "recovered_orders": 0, "recovered_revenue": "0.00"},
    ],  # fmt: skip
    "recovered": {"orders": 2, "revenue": "160.00"},
    "recovery_rate": 0.4,  # T1, T2 of 5 treated
    # Converted by the rule: treated T1 (own checkout), T2 (same email in 5 days) = 2/5; T3 out of the window,
    # T4 refunded in full, T5 no order. Control C1 (own checkout) = 1/3; C2 ordered before its anchor.
    "control_conversion_rate": 0.3333,
    "incremental": {
        # d = 2/5 − 1/3 = 1/15 = 0.0667; orders d × 5 = 1/3; revenue 1/3 × (160.00 / 2) = 26.67.
        "orders": 0.33,
        "revenue": "26.67",
        # Newcombe's hybrid score interval, z = 1.959964, z² = 3.841459:
        # Wilson 2/5: centre (2 + 1.920729)/(5 + 3.841459) = 0.443448,
        #   half 1.959964 × √(2×3/5 + 0.960365)/8.841459 = 0.325827 → (0.117621, 0.769276)
        # Wilson 1/3: centre (1 + 1.920729)/(3 + 3.841459) = 0.426916,
        #   half 1.959964 × √(1×2/3 + 0.960365)/6.841459 = 0.365424 → (0.061492, 0.792340)
        # low  = 0.066667 − √((0.4 − 0.117621)² + (0.792340 − 0.333333)²) = 0.066667 − 0.538911 = −0.472245
        # high = 0.066667 + √((0.769276 − 0.4)² + (0.333333 − 0.061492)²) = 0.066667 + 0.458544 = 0.525210
        "rate_low": -0.4722,
        "rate_high": 0.5252,
        "conclusive": False,  # the interval holds 0
    },
    "previous": {"abandoned": 2, "recovered": {"orders": 1, "revenue": "30.00"}, "recovery_rate": 0.5},
    "daily": [
        {"date": "2026-11-16", "abandoned": 2, "recovered_orders": 2, "recovered_revenue": "160.00"},
        {"date": "2026-11-17", "abandoned": 2, "recovered_orders": 0, "recovered_revenue": "0.00"},
        {"date": "2026-11-18", "abandoned": 2, "recovered_orders": 0, "recovered_revenue": "0.00"},
        {"date": "2026-11-19", "abandoned": 2, "recovered_orders": 0, "recovered_revenue": "0.00"},
        {"date": "2026-11-20", "abandoned": 1, "recovered_orders": 0, "recovered_revenue": "0.00"},
    ],
    "referral": {"invites_sent": 0, "codes_redeemed": 0, "referred_orders": 0, "referred_revenue": "0.00",
                 "rewards_issued": 0},
}  # fmt: skip


@pytest.fixture
def shop_ids(rt) -> tuple[int, int]:
    with transaction(rt.sessions) as session:
        shop = install_shop(session, rt.box, DOMAIN, "shpat_x", timezone="UTC", currency="USD")
        other = install_shop(session, rt.box, OTHER, "shpat_x", timezone="UTC", currency="USD")
        story(Rows(session, shop), Rows(session, other))
        return shop.id, other.id


def report(rt, shop_id: int, start: date = FROM, end: date = TO) -> dict:
    with transaction(rt.sessions) as session:
        return to_json(measure(session, session.get_one(Shop, shop_id), start, end, NOW))


def test_the_hand_computed_shop_gives_exactly_the_expected_document(rt, shop_ids):
    assert report(rt, shop_ids[0]) == EXPECTED


def test_the_other_shop_sees_only_its_own_journey(rt, shop_ids):
    other = report(rt, shop_ids[1])
    assert (other["abandoned"], other["recovered"], other["journeys"]) == (
        1, {"orders": 1, "revenue": "500.00"}, {"treated": 1, "control": 0}
    )  # fmt: skip
    # No control journey: no control rate and no incremental estimate.
    assert other["control_conversion_rate"] is None
    assert other["incremental"] == {"orders": None, "revenue": None, "rate_low": None, "rate_high": None,
                                    "conclusive": False}  # fmt: skip


def test_the_referral_block_is_null_when_the_flow_is_off(rt, shop_ids):
    with transaction(rt.sessions) as session:
        shop = session.get_one(Shop, shop_ids[0])
        document = load_settings(session, shop).to_document()
        document["referral"]["enabled"] = False
        save_settings(session, shop, document)
    assert report(rt, shop_ids[0])["referral"] is None


def test_a_wider_attribution_window_converts_the_late_order_in_both_groups_alike(rt, shop_ids):
    with transaction(rt.sessions) as session:
        shop = session.get_one(Shop, shop_ids[0])
        document = load_settings(session, shop).to_document()
        document["measurement"]["attribution_days"] = 7
        save_settings(session, shop, document)
    result = report(rt, shop_ids[0])
    # T3's order 6 d 23 h after its first email now converts it: 3/5 treated, the attribution rows unchanged.
    assert result["recovered"] == EXPECTED["recovered"]
    assert result["incremental"]["orders"] == round(3 - 5 / 3, 2) == 1.33


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_the_cli_json_is_the_same_document(rt, shop_ids):
    result = run("report", "--shop", DOMAIN, "--from", "2026-11-16", "--to", "2026-11-20", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == EXPECTED
    days = run("report", "--shop", DOMAIN, "--days", "5", "--now", NOW.isoformat(), "--json")
    assert json.loads(days.output) == EXPECTED


def test_the_cli_text_prints_the_same_figures(rt, shop_ids):
    result = run("report", "--shop", DOMAIN, "--from", "2026-11-16", "--to", "2026-11-20")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Journeys treated / control" in out and "5 / 3" in out
    assert "Recovered revenue (USD)" in out and "160.00" in out
    assert "Incremental orders" in out and "0.33" in out
    assert "−47.2 … +52.5 pts" in out and "not conclusive" in out  # test_report_command.py reads it all


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--from", "2026-11-20", "--to", "2026-11-16"], "is after"),
        (["--from", "2026-11-31", "--to", "2026-12-01"], "YYYY-MM-DD"),
        (["--from", "2025-01-01", "--to", "2026-11-16"], "at most 366 days"),
        (["--from", "2026-11-16"], "give both"),
        (["--days", "5", "--from", "2026-11-16", "--to", "2026-11-20"], "not both"),
        (["--days", "0"], "1 to 366"),
    ],
)
def test_the_cli_refuses_a_bad_range_with_exit_2(rt, shop_ids, args, says):
    result = run("report", "--shop", DOMAIN, *args)
    assert result.exit_code == 2 and says in result.output


def test_parse_range():
    today = date(2026, 11, 20)
    assert parse_range(today) == (date(2026, 11, 6), today)
    assert parse_range(today, days="1") == (today, today)
    assert parse_range(today, start="2026-01-01", end="2026-12-31") == (date(2026, 1, 1), date(2026, 12, 31))
    for bad in ({"days": "x"}, {"days": "367"}, {"start": "2026-01-01"}, {"start": "a", "end": "b"}):
        with pytest.raises(BadRange):
            parse_range(today, **bad)


def get(client, rt, query: str, shop: str = DOMAIN):
    token = session_token(shop, api_key=rt.settings.shopify_api_key, secret=rt.settings.shopify_api_secret)
    return client.get(f"/api/report{query}", headers={"Authorization": f"Bearer {token}"})


def test_the_api_gives_the_same_document_as_the_cli(rt, client, shop_ids):
    answer = get(client, rt, "?from=2026-11-16&to=2026-11-20")
    assert answer.status_code == 200 and answer.get_json() == EXPECTED
    cli = run("report", "--shop", DOMAIN, "--from", "2026-11-16", "--to", "2026-11-20", "--json")
    assert json.loads(cli.output) == answer.get_json()
    # The last N days ending today (the real clock: the story's November rows may or may not be in them).
    week = get(client, rt, "?days=7").get_json()
    assert week == json.loads(run("report", "--shop", DOMAIN, "--days", "7", "--json").output)
    assert len(week["daily"]) == 7 and len(get(client, rt, "").get_json()["daily"]) == 15


def test_the_api_is_scoped_by_the_session_tokens_shop_and_needs_one(rt, client, shop_ids):
    other = get(client, rt, "?from=2026-11-16&to=2026-11-20", shop=OTHER).get_json()
    assert other["shop"] == OTHER and other["recovered"] == {"orders": 1, "revenue": "500.00"}
    assert client.get("/api/report?from=2026-11-16&to=2026-11-20").status_code == 401


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("?from=2026-11-20&to=2026-11-16", "is after"),
        ("?from=2026-02-30&to=2026-03-01", "YYYY-MM-DD"),
        ("?from=2025-01-01&to=2026-11-16", "at most 366 days"),
        ("?to=2026-11-16", "give both"),
        ("?days=7&from=2026-11-16&to=2026-11-20", "not both"),
        ("?days=0", "1 to 366"),
        ("?days=abc", "whole number"),
        ("?days=", "whole number"),
        ("?days=" + "9" * 5000, "whole number"),
        ("?from=0001-01-01&to=0001-01-02", "from 1971-01-01"),
        ("?from=9999-12-30&to=9999-12-31", "to 9998-12-31"),
    ],
)
def test_the_api_answers_400_for_a_bad_range(rt, client, shop_ids, query, says):
    answer = get(client, rt, query)
    assert answer.status_code == 400 and says in answer.get_json()["error"]


def test_a_message_sent_before_an_update_moved_its_journey_into_the_range_still_counts(rt, shop_ids):
    """A checkout update moves its journey's abandoned_at (recovery/journeys.py), after a message went out."""
    with transaction(rt.sessions) as session:
        rows = Rows(session, session.get_one(Shop, shop_ids[0]))
        moved = rows.journey("2026-11-16T00:30:00+00:00", token="moved", email="m@example.com")
        rows.message(moved, "first", "email", status="sent", sent_at="2026-11-15T22:00:00+00:00")
    first_email = report(rt, shop_ids[0])["by_step"][0]
    assert (first_email["step"], first_email["channel"], first_email["sent"]) == ("first", "email", 5)
