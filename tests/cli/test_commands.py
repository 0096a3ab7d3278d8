"""The `reclaim` command line, run through click against the real database."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from shop_app.cli.commands import main

ABANDONED = "2026-03-02T19:00:00+01:00"


@pytest.fixture
def acme(rt, admin_api):
    """A token the development Admin API takes for acme.myshopify.com: `shop install` tries it there."""
    return admin_api.issue_token("acme.myshopify.com")


@pytest.fixture
def run(rt):
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke


def test_shop_install_seals_the_token_and_refuses_foreign_domains(run, rt, acme):
    from sqlalchemy import select

    from shop_app.storage.database import transaction
    from shop_app.storage.tables import Shop

    ok = run("shop", "install", "acme.myshopify.com", "--token", acme, "--timezone", "America/New_York")
    assert ok.exit_code == 0, ok.output
    assert "installed acme.myshopify.com" in ok.output
    with transaction(rt.sessions) as session:
        shop = session.scalar(select(Shop))
        assert acme not in shop.access_token
        assert rt.box.open(shop.access_token) == acme

    for bad in ("acme.com", "https://acme.myshopify.com.evil.com", "a_b.myshopify.com"):
        refused = run("shop", "install", bad, "--token", "t")
        assert refused.exit_code == 2 and "not a *.myshopify.com shop domain" in refused.output
    bad_zone = run("shop", "install", "bee.myshopify.com", "--token", "t", "--timezone", "Mars/Olympus")
    assert bad_zone.exit_code == 2 and "unknown time zone" in bad_zone.output


def test_settings_show_prints_the_defaults_in_the_shops_time_zone(run, acme):
    run("shop", "install", "acme.myshopify.com", "--token", acme, "--timezone", "Asia/Kolkata")
    shown = json.loads(run("settings", "show", "acme.myshopify.com").output)
    assert shown["recovery"]["first"] == {
        "enabled": True,
        "delay_minutes": 60,
        "channels": ["email", "push"],
        "incentive": {
            "type": "none",
            "value": None,
            "code_mode": "shared",
            "code": None,
            "expiry_hours": 72,
            "combines_with_shipping": False,
        },
    }
    assert shown["recovery"]["whatsapp"] == {"enabled": True, "delay_minutes": 120}
    assert shown["recovery"]["prime"]["delay_hours"] == 16
    assert shown["recovery"]["prime"]["channels"] == ["sms", "whatsapp"]
    assert shown["delivery_windows"]["timezone"] == "Asia/Kolkata"
    assert shown["delivery_windows"]["channels"] == ["whatsapp", "sms"]
    assert shown["delivery_windows"]["days"]["sun"] == [["09:00", "21:00"]]
    assert shown["consent"] == {"email": "unless_unsubscribed", "whatsapp": "phone_marketing"}


def test_settings_set_saves_a_valid_document(run, acme, tmp_path):
    run("shop", "install", "acme.myshopify.com", "--token", acme)
    document = json.loads(run("settings", "show", "acme.myshopify.com").output)
    document["recovery"]["prime"]["delay_hours"] = 40
    document["recovery"]["prime"]["incentive"] = {"type": "free_shipping", "code_mode": "shared", "code": "SHIPFREE"}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(document))
    saved = run("settings", "set", "acme.myshopify.com", str(path))
    assert saved.exit_code == 0, saved.output
    again = json.loads(run("settings", "show", "acme.myshopify.com").output)
    assert again["recovery"]["prime"]["delay_hours"] == 40
    assert again["recovery"]["prime"]["incentive"]["code"] == "SHIPFREE"


def test_settings_set_refuses_bad_fields_and_changes_nothing(run, acme, tmp_path):
    run("shop", "install", "acme.myshopify.com", "--token", acme)
    before = run("settings", "show", "acme.myshopify.com").output
    document = json.loads(before)
    document["recovery"]["whatsapp"]["delay_minutes"] = 90
    document["recovery"]["prime"]["incentive"] = {
        "type": "percentage",
        "value": 150,
        "code_mode": "shared",
        "code": "X",
    }
    document["delivery_windows"]["days"]["mon"] = [["21:00", "09:00"]]
    document["delivery_windows"]["timezone"] = "Nowhere/City"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    refused = run("settings", "set", "acme.myshopify.com", str(path))
    assert refused.exit_code == 2
    for field in (
        "recovery.whatsapp.delay_minutes",
        "recovery.prime.incentive.value",
        "delivery_windows.days.mon[0]",
        "delivery_windows.timezone",
    ):
        assert field in refused.output, refused.output
    assert run("settings", "show", "acme.myshopify.com").output == before


@pytest.mark.parametrize("content", ["{not json", "", "[]", '"text"', '{"recovery": 5}'])
def test_settings_set_never_crashes_on_garbage(run, acme, tmp_path, content):
    run("shop", "install", "acme.myshopify.com", "--token", acme)
    path = tmp_path / "garbage.json"
    path.write_text(content)
    result = run("settings", "set", "acme.myshopify.com", str(path))
    assert result.exit_code == 2
    assert "error" in result.output or "fix these fields" in result.output


def test_settings_for_an_unknown_shop_is_a_clear_error(run, tmp_path):
    path = tmp_path / "s.json"
    path.write_text("{}")
    for args in (("settings", "show", "nobody.myshopify.com"), ("settings", "set", "nobody.myshopify.com", str(path))):
        result = run(*args)
        assert result.exit_code == 1 and "no shop nobody.myshopify.com is installed" in result.output


def test_tick_and_messages_show_the_journey(run, store):
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    ticked = run("tick", "--now", "2026-03-02T19:00:00Z")
    assert ticked.exit_code == 0 and "dispatched 1" in ticked.output
    store.drain()
    rows = json.loads(run("messages", "--shop", store.domain, "--json").output)
    assert [set(r) for r in rows][0] == {
        "id",
        "shop",
        "checkout_token",
        "order",
        "flow",
        "step",
        "channel",
        "status",
        "due_at",
        "sent_at",
        "reason",
        "delivery_status",
        "body",
    }
    first = [r for r in rows if r["step"] == "first"][0]
    assert (first["status"], first["channel"], first["checkout_token"]) == ("sent", "email", "c1")
    table = run("messages").output
    assert "c1" in table and "sent" in table
    assert run("tick", "--now", "yesterday").exit_code == 2
