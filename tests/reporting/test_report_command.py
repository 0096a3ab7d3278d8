"""`reclaim report`: the same figures as the Home page, from the same read model, as text."""

from __future__ import annotations

from decimal import Decimal

import pytest
from click.testing import CliRunner

from shop_app.cli.commands import main
from shop_app.reporting.cycle import Figures
from shop_app.reporting.present import lines, percent
from shop_app.shopify.shops import install_shop
from shop_app.storage.database import transaction
from shop_app.storage.tables import Shop
from tests.reporting.rows import Rows
from tests.reporting.test_cycle import DOMAIN, NOW, report, story


@pytest.fixture
def shop_id(rt) -> int:
    with transaction(rt.sessions) as session:
        shop_id = install_shop(session, rt.box, DOMAIN, "shpat_x", timezone="Europe/Madrid", currency="EUR").id
        story(Rows(session, session.get(Shop, shop_id)))
    return shop_id


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def row(output: str, label: str) -> list[str]:
    """The values printed after a figure's label: current, previous, change."""
    [line] = [text for text in output.splitlines() if text.strip().startswith(label)]
    return line.strip()[len(label) :].split()


def test_report_prints_the_read_models_figures_and_days(rt, shop_id):
    result = run("report", "--shop", DOMAIN, "--now", NOW.isoformat())
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith(f"{DOMAIN}: 15 days, 2 Mar – 16 Mar 2026 (Europe/Madrid),")
    assert "against the 15 days before (15 Feb – 1 Mar 2026)" in out
    assert row(out, "Abandoned checkouts") == ["3", "2", "+50", "%"]
    assert row(out, "Reachable (a message planned)") == ["2", "2", "+0", "%"]
    assert row(out, "Messages sent") == ["3", "1", "+200", "%"]
    assert row(out, "First reminder by email") == ["2", "1", "+100", "%"]
    assert row(out, "First reminder by push") == ["1", "0", "new"]
    assert row(out, "Clicks") == ["3", "0", "new"]
    assert row(out, "Recovered orders") == ["1", "1", "+0", "%"]
    assert row(out, "Recovered revenue (EUR)") == ["80.00", "20.00", "+300", "%"]
    assert row(out, "Recovery rate (recovered ÷ abandoned)") == ["33.3", "%", "50.0", "%", "−16.7", "pts"]
    assert "2026-03-02         1         1       3       3         0        0.00" in out
    assert "2026-03-03         0         0       0       0         1       80.00" in out
    assert len([text for text in out.splitlines() if text.startswith("2026-")]) == 15


def test_report_takes_the_range_and_refuses_what_it_cannot_read(rt, shop_id):
    week = run("report", "--shop", DOMAIN, "--days", "7", "--now", NOW.isoformat())
    assert week.exit_code == 0 and row(week.output, "Abandoned checkouts") == ["2", "0", "new"]
    assert run("report", "--shop", DOMAIN, "--days", "0").exit_code == 2
    assert run("report", "--shop", DOMAIN, "--now", "yesterday").exit_code == 2
    unknown = run("report", "--shop", "nowhere.myshopify.com")
    assert unknown.exit_code == 1 and "no shop nowhere.myshopify.com" in unknown.output
    assert run("report", "--shop", "not a domain").exit_code == 1


def test_the_lines_match_the_figures(rt, shop_id):
    result = report(rt, shop_id)
    by_key = {line.key: line for line in lines(result)}
    assert [line.key for line in lines(result)][:4] == ["abandoned", "reachable", "journeys", "messages_sent"]
    assert by_key["journeys"].current == "1 / 1 / 1"
    assert by_key["sent.first.push"].detail and not by_key["messages_sent"].detail
    assert by_key["recovery_rate"].current == percent(Decimal(1) / Decimal(3)) == "33.3 %"
    empty = lines(type(result)(**{**result.__dict__, "current": Figures(), "previous": Figures()}))
    assert {line.change for line in empty} == {""}
    assert {line.key: line.current for line in empty}["recovery_rate"] == "–"
