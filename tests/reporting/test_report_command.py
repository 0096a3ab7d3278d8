"""`reclaim report` as text: the figures Home shows (present.lines, current against previous), the
incremental results in Home's words (holdout_verdict.py), then the step and day tables: all from the
report (measurement.py) that `--json` prints, on test_measurement.py's hand-computed shop."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from shop_app.cli.commands import main
from shop_app.shopify.shops import install_shop
from shop_app.storage.database import transaction
from tests.reporting.rows import Rows
from tests.reporting.test_measurement import DOMAIN, NOW, OTHER, story


@pytest.fixture
def shop(rt) -> None:
    with transaction(rt.sessions) as session:
        shop = install_shop(session, rt.box, DOMAIN, "shpat_x", timezone="UTC", currency="USD")
        other = install_shop(session, rt.box, OTHER, "shpat_x", timezone="UTC", currency="USD")
        story(Rows(session, shop), Rows(session, other))


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def row(output: str, label: str) -> list[str]:
    """The values printed after a figure's label."""
    [line] = [text for text in output.splitlines() if text.strip().startswith(label)]
    return line.strip()[len(label) :].split()


def test_the_text_prints_homes_figures_and_verdict_from_the_report(rt, shop):
    result = run("report", "--shop", DOMAIN, "--from", "2026-11-16", "--to", "2026-11-20")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith(
        f"{DOMAIN}: checkouts abandoned 16 Nov – 20 Nov 2026 (UTC),\nagainst the 5 days before (11 Nov – 15 Nov 2026)"
    )
    # test_measurement.EXPECTED's figures; the previous range is P1 (credited 30.00) and P2.
    assert row(out, "Abandoned checkouts") == ["9", "2", "+350", "%"]
    assert row(out, "Reachable (a message planned)") == ["8", "2", "+300", "%"]
    assert row(out, "Journeys treated / control (held out)") == ["5", "/", "3", "2", "/", "0"]
    assert row(out, "Recovered orders") == ["2", "1", "+100", "%"]
    assert row(out, "Recovered revenue (USD)") == ["160.00", "30.00", "+433", "%"]
    assert row(out, "Recovery rate (recovered ÷ treated journeys)") == ["40.0", "%", "50.0", "%", "−10.0", "pts"]
    assert "Incremental results (against the holdout): not conclusive yet" in out
    assert row(out, "Treated journeys converted") == ["40.0", "%", "(2", "of", "5)"]
    assert row(out, "Control group converted") == ["33.3", "%", "(1", "of", "3)"]
    assert row(out, "Incremental orders (estimate)") == ["0.33"]
    assert row(out, "Incremental revenue (USD)") == ["26.67"]
    assert row(out, "Effect on the conversion rate, 95 % interval") == ["−47.2", "…", "+52.5", "pts"]
    said = " ".join(out.split())  # the sentences are wrapped
    assert "Not conclusive yet: the messages' effect on the conversion rate lies between −47.2 and +52.5" in said
    assert row(out, "recovery first email") == ["4", "3", "2", "2", "160.00"]
    assert row(out, "recovery prime sms") == ["2", "1", "0", "0", "0.00"]
    assert row(out, "2026-11-16") == ["2", "2", "160.00"]
    assert len([text for text in out.splitlines() if text.strip().startswith("2026-11-")]) == 5
    assert "Referral Generation, the range" in out  # --from … --to: the range's referral figures alone


def test_a_range_ending_today_prints_the_referral_figures_against_the_days_before(rt, shop):
    result = run("report", "--shop", DOMAIN, "--days", "5", "--now", NOW.isoformat())
    assert result.exit_code == 0, result.output
    out = result.output
    assert row(out, "Abandoned checkouts") == ["9", "2", "+350", "%"]  # 16 … 20 November again
    assert "\nReferral Generation\n" in out and "Referral Generation, the range" not in out
    assert row(out, "Referral invites sent") == ["0", "0"]


def test_report_refuses_what_it_cannot_read(rt, shop):
    assert run("report", "--shop", DOMAIN, "--days", "0").exit_code == 2
    assert run("report", "--shop", DOMAIN, "--now", "yesterday").exit_code == 2
    unknown = run("report", "--shop", "nowhere.myshopify.com")
    assert unknown.exit_code == 1 and "no shop nowhere.myshopify.com" in unknown.output
    assert run("report", "--shop", "not a domain").exit_code == 1
