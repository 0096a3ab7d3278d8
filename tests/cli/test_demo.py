"""`reclaim demo` tells the whole story on embedded defaults and exits 0: the recovery flow's
checkouts, then the referral flow (issue 11) — an advocate's review, social and invite, a friend's
reward, a refused self-referral and an imported customer's order that starts nothing — read back
from the demo's own database, not only from what it printed."""

from __future__ import annotations

import json
import re
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from shop_app.cli.demo import run_demo
from shop_app.storage.database import make_engine, session_factory, transaction
from shop_app.storage.referral_tables import ReferralAdvocate, ReferralReward
from shop_app.storage.tables import Journey, Message, OrderRow, Profile, WebhookDelivery

pytestmark = pytest.mark.slow  # the whole demo: its own Redis server, the web app on a port, ten simulated days


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, str, dict[str, tuple[int, str]]]:
    """One run of the demo with --serve (the admin visited as a merchant would): its folder, what
    it printed and what the visit saw."""
    folder = tmp_path_factory.mktemp("demo") / "demo"
    lines: list[str] = []
    visited: dict[str, tuple[int, str]] = {}

    def visit(sign_in_url: str) -> None:
        """What a merchant does with the printed URL: open it, land on the admin's home page."""
        with urllib.request.urlopen(sign_in_url, timeout=10) as response:  # follows the redirect
            visited["home"] = (response.status, response.read().decode())
        base = sign_in_url.split("/dev/")[0]
        with urllib.request.urlopen(f"{base}/dev/stand-ins/app-bridge.js", timeout=10) as response:
            visited["stand-in"] = (response.status, response.read().decode())

    assert run_demo(folder, out=lines.append, serve=visit) == 0
    return folder, "\n".join(lines), visited


def _sessions(folder: Path) -> sessionmaker[Session]:
    """The demo's own database, left in its folder."""
    return session_factory(make_engine(f"sqlite:///{folder / 'demo.db'}"))


def _outbox(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "outbox.jsonl").read_text().splitlines()]


def test_the_recovery_story_prints_the_timeline_and_serves_the_admin(demo) -> None:
    folder, text, visited = demo
    assert re.search(r"  http://127\.0\.0\.1:\d+/dev/sign-in\?shop=casa-lino\.myshopify\.com", text)
    status, home = visited["home"]
    assert status == 200 and "Casa Lino" in home and "https://cdn.shopify.com/shopifycloud/polaris-1.js" in home
    assert visited["stand-in"][0] == 200
    assert "Lucía    recovery whatsapp whatsapp cancelled: paid: order #1042" in text
    assert "Marc     recovery whatsapp whatsapp now due Tue 03 Mar 09:00 (outside delivery window" in text
    assert "Tue 03 Mar 09:00    Marc     recovery whatsapp whatsapp SENT to +34611000004" in text
    assert "Sofía    recovery prime    sms      SENT to +34611000002" in text
    assert "a visitor leaves no contact details: HTTP 200, not reachable" in text
    assert "Jonas updates his checkout twice: HTTP 200, planned: 4 new" in text
    assert "Jonas takes a third mug: HTTP 200, planned: 0 new, 4 moved" in text
    assert "Jonas    recovery whatsapp whatsapp skipped: no consent: no phone marketing consent" in text
    assert "  sent: 4 email, 2 sms, 4 whatsapp (recovery); 4 email (referral)" in text
    assert "  not sent: 6 cancelled, 4 skipped" in text
    # Two journeys converted (Elena paid by phone, no message credited); one order recovered by a message.
    assert "  converted: 2 journey(s) paid, 58.41 EUR attributed to messages (the report's 'recovered')" in text
    assert "  recovered: " not in text
    assert "  report 2026-03-02 – 2026-03-12: 5 abandoned, 5 reachable (5 treated, 0 control)" in text  # issue 12
    assert "  recovered 1 order(s), 58.41 EUR, recovery rate 20.0 %, control group –" in text
    # Elena's order exists only in Shopify: the live payment check finds it.
    assert re.search(
        r"Elena    recovery first    email    skipped: paid: order #\d+ .*\(found through the Admin API\)", text
    )
    # Prime's offer is a unique code created through the Admin API, the same for both channels of the step.
    codes = set(re.findall(r"PRIME-[2-9A-HJKMNP-Z]{12}", text))
    assert len(codes) == 2 and "15% off" in text
    with transaction(_sessions(folder)) as session:
        flows: dict[int, str] = {row.id: row.flow for row in session.execute(select(Message.id, Message.flow))}
    assert Counter(flows[m["message_id"]] for m in _outbox(folder)) == {"recovery": 10, "referral": 4}
    # Each sent message is printed as the customer reads it, rendered from the templates.
    assert "│ Hi Marc," in text and "│ - 1 x Oak side table (189.00 EUR)" in text
    assert re.search(r"│ Finish your order: http://127\.0\.0\.1:\d+/c/[\w-]+", text)  # the tracked link, to the app
    assert re.search(
        r"│ Hi Sofia, Casa Lino kept your cart \(1 x Wool blanket, 129.00 EUR\)\. Code PRIME-\w+: 15% off", text
    )
    assert "Reply STOP to opt out" in text


def test_the_referral_story_is_in_the_demos_database(demo) -> None:
    folder, text, _ = demo
    with transaction(_sessions(folder)) as session:
        lucia = session.scalars(select(Profile).where(Profile.email == "lucia@example.com")).one()
        teresa = session.scalars(select(Profile).where(Profile.email == "teresa@example.com")).one()
        [(advocate_code, discount_id)] = session.execute(
            select(ReferralAdvocate.code, ReferralAdvocate.code_discount_id).where(
                ReferralAdvocate.profile_id == lucia.id
            )
        ).all()
        journey = session.scalars(
            select(Journey).where(Journey.profile_id == lucia.id, Journey.flow == "referral")
        ).one()
        steps = {
            m.step: m
            for m in session.scalars(select(Message).where(Message.journey_id == journey.id).order_by(Message.due_at))
        }
        rewards = session.execute(
            select(ReferralReward, OrderRow.email).join(OrderRow, OrderRow.id == ReferralReward.friend_order_id)
        ).all()
        teresa_journeys = session.scalars(select(Journey).where(Journey.profile_id == teresa.id)).all()
        teresa_order = session.scalars(select(OrderRow).where(OrderRow.email == "teresa@example.com")).one()
        paid = session.scalars(
            select(WebhookDelivery.reason).where(WebhookDelivery.topic == "orders/paid").order_by(WebhookDelivery.id)
        ).all()

    # Lucía, captured by her checkout, went through review → social → invite, in that order, by email.
    assert lucia.origin == "captured" and journey.trigger_order_id is not None
    assert [(s, m.status, m.channel) for s, m in steps.items()][:3] == [
        ("review", "sent", "email"),
        ("social", "sent", "email"),
        ("invite", "sent", "email"),
    ]
    assert steps["review"].due_at < steps["social"].due_at < steps["invite"].due_at
    # The invite carries her personal code, made through the development Admin API, and its link.
    assert advocate_code.startswith("LUCIA-") and discount_id and discount_id.startswith("gid://shopify/")
    invite = steps["invite"].body or ""
    assert advocate_code in invite and f"https://casa-lino.myshopify.com/discount/{advocate_code}" in invite

    # Bea bought with the code: one reward issued, its own code sent to Lucía by the invite's channel.
    by_friend = {email: reward for reward, email in rewards}
    assert set(by_friend) == {"bea@example.com", "lucia@example.com"}
    reward = by_friend["bea@example.com"]
    assert reward.status == "issued" and reward.reward_code and reward.reward_code != advocate_code
    assert steps["reward"].status == "sent" and steps["reward"].channel == "email"
    assert reward.message_id == steps["reward"].id and reward.reward_code in (steps["reward"].body or "")
    assert [m["to"] for m in _outbox(folder) if reward.reward_code in m["body"]] == ["lucia@example.com"]
    # Lucía's own order with her code: refused, with the reason, and no second reward.
    refused = by_friend["lucia@example.com"]
    assert refused.status == "refused" and refused.message_id is None
    assert "the friend is the advocate" in (refused.reason or "")
    assert sum(1 for r, _ in rewards if r.status == "issued") == 1

    # Teresa existed before the install: imported by the setup job; her order starts no referral flow.
    assert teresa.origin == "imported" and teresa.customer_id
    assert teresa_order.customer_id == teresa.customer_id and teresa_journeys == []
    assert any(f"order {teresa_order.name}" in r and "no referral flow: the customer was imported" in r for r in paid)

    # The printout says the same, flow by flow.
    assert "Lucía    referral invite   email    SENT to lucia@example.com" in text
    assert f"│ Your link: https://casa-lino.myshopify.com/discount/{advocate_code}" in text
    assert re.search(r"Lucía    referral reward   email    SENT to lucia@example.com", text)
    assert f"order #1044 with {advocate_code}: refused: the friend is the advocate" in text
    assert "↳ no referral flow: the customer was imported, not captured by the store" in text
    assert "sent in turn: review → social → invite → reward" in text


def test_the_readme_tells_the_demo_as_it_prints_it(demo) -> None:
    """README's 'What the demo shows' (issue 14, item 8): its count of checkouts and its summary
    figures are what the demo prints, and every link the demo prints is on its own port."""
    _, text, _ = demo
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = " ".join(readme.split("## What the demo shows")[1].split("\n## ")[0].split())
    told = re.search(r"for (\w+) checkouts", section)
    assert told is not None
    assert {"five": 5, "six": 6, "seven": 7}[told[1]] == text.count("webhook checkouts/create")
    figures = re.search(r"\((\d+) checkouts, (\d+) reachable; (\d+) recovery and (\d+) referral journeys\)", section)
    assert figures is not None
    checkouts, reachable, recovery, referral = figures.groups()
    expected = f"  checkouts: {checkouts} ({reachable} reachable), journeys: {recovery} recovery, {referral} referral"
    assert expected in text
    announced = re.search(r"app at http://127\.0\.0\.1:(\d+)", text)
    assert announced is not None
    assert set(re.findall(r"http://127\.0\.0\.1:(\d+)", text)) == {announced[1]} and "localhost" not in text
