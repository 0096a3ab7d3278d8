"""The holdout group end to end (issue 12): signed webhooks over the real routes, the real worker
and simulated time. A control journey is planned and tracked like any other, but every message is
skipped with "holdout (control group)" and nothing goes out; the share is the settings' (set through
the admin API and `reclaim settings set`), 10 % by default for checkouts abandoned in the 15 days
after install and 0 for any other; a journey keeps the side it was given when it was created."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import count

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from shop_app.cli.commands import main
from shop_app.domain.holdout import in_control
from shop_app.shopify.shops import install_shop
from shop_app.storage.database import transaction
from shop_app.storage.tables import CheckoutRow, Journey, Shop
from tests.support import ShopifyStore
from tests.tokens import session_token

HOLDOUT = "holdout (control group)"
ABANDONED = "2026-03-02T19:00:00+01:00"  # a Monday evening in Madrid
#: When each step of a cart abandoned at ABANDONED goes out: first (+1 h), WhatsApp (+2 h, at 21:00
#: Madrid: waits for 09:00), Prime (+16 h).
SEND_TIMES = ("2026-03-02T19:00:00+00:00", "2026-03-03T08:00:00+00:00", "2026-03-03T10:00:00+00:00")
INSTALLED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
_people = count(1)


def pick(rt, *, control_at: int, control: bool, prefix: str = "h") -> str:
    """The first checkout token `prefix-N` that the app's key puts on the wanted side at `control_at` %."""
    return next(
        token
        for token in (f"{prefix}-{n}" for n in range(10_000))
        if in_control(rt.settings.secret_key, token, control_at) is control
    )


def abandon(store: ShopifyStore, token: str, at: str = ABANDONED) -> dict:
    """checkouts/create for a person of its own (email, phone and customer); returns the payload."""
    person = next(_people)
    email, phone = f"shopper{person}@example.com", f"+3460011{person:04d}"
    customer = {"id": 8000 + person, "email": email, "phone": phone, "first_name": "Ana"}
    payload = store.checkout(token, at, email=email, phone=phone, customer=customer)
    store.deliver("checkouts/create", payload)
    return payload


def send_everything(store: ShopifyStore) -> None:
    for at in SEND_TIMES:
        store.tick(at)
    store.tick("2026-03-04T12:00:00+00:00")  # whatever a checkout update moved a little later


def journey_holdout(store: ShopifyStore, token: str) -> bool:
    with transaction(store.rt.sessions) as session:
        journey = session.scalars(
            select(Journey).join(CheckoutRow, CheckoutRow.id == Journey.checkout_id).where(CheckoutRow.token == token)
        ).one()
        return journey.holdout


def put_settings(rt, store: ShopifyStore, client, change: dict) -> dict:
    """The admin's way: GET /api/settings, change the measurement section, PUT it back."""
    token = session_token(store.domain, api_key=rt.settings.shopify_api_key, secret=rt.settings.shopify_api_secret)
    bearer = {"Authorization": f"Bearer {token}"}
    document = client.get("/api/settings", headers=bearer).get_json()["settings"]
    document["measurement"].update(change)
    response = client.put("/api/settings", json=document, headers=bearer)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["settings"]


def cli_settings(store: ShopifyStore, tmp_path, change: dict):
    """The operator's way: `reclaim settings show`, the measurement section changed, `reclaim settings set`."""
    runner = CliRunner()
    shown = runner.invoke(main, ["settings", "show", store.domain], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    document = json.loads(shown.output)
    document["measurement"].update(change)
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(document))
    return runner.invoke(main, ["settings", "set", store.domain, str(path)], catch_exceptions=False)


def installed_at(store: ShopifyStore, when: datetime) -> None:
    """Install the shop again at `when`, with a new token from the development Admin API (as
    `reclaim shop install` does): the validation cycle counts from it."""
    token = store.admin_api.issue_token(store.domain)
    with transaction(store.rt.sessions) as session:
        install_shop(session, store.rt.box, store.domain, token, name="Demo Shop",
                     timezone="Europe/Madrid", currency="EUR", now=when)  # fmt: skip
        assert session.scalars(select(Shop.installed_at)).one() == when


def test_a_control_journey_is_planned_but_every_message_is_skipped_and_nothing_goes_out(rt, store, client):
    put_settings(rt, store, client, {"holdout_percent": 50})
    control, treated = pick(rt, control_at=50, control=True), pick(rt, control_at=50, control=False)
    held, treated_one = abandon(store, control), abandon(store, treated)

    planned = store.messages(checkout_token=control)
    assert {(m["step"], m["channel"]) for m in planned} == {
        ("first", "email"), ("whatsapp", "whatsapp"), ("prime", "sms"), ("prime", "whatsapp"),
    }  # fmt: skip
    assert {m["status"] for m in planned} == {"scheduled"}  # planned and tracked like any journey

    send_everything(store)
    skipped = store.messages(checkout_token=control)
    assert [(m["status"], m["reason"]) for m in skipped] == [("skipped", HOLDOUT)] * 4
    assert all(m["sent_at"] is None and m["body"] is None for m in skipped)
    sent_to = [m["to"] for m in store.outbox()]
    assert not [to for to in sent_to if held["email"] in to or held["phone"] in to]
    # The treated journey beside it is messaged as usual, by email and by phone.
    assert treated_one["email"] in sent_to and any(treated_one["phone"] in to for to in sent_to)
    assert {m["status"] for m in store.messages(checkout_token=treated)} <= {"sent", "skipped"}
    assert any(m["status"] == "sent" for m in store.messages(checkout_token=treated))
    assert (journey_holdout(store, control), journey_holdout(store, treated)) == (True, False)


def test_a_control_journey_still_converts_when_the_customer_pays(rt, store, client):
    """Control journeys are tracked: the report compares their conversion with the treated ones'."""
    put_settings(rt, store, client, {"holdout_percent": 50})
    control = pick(rt, control_at=50, control=True)
    abandon(store, control)
    store.tick(SEND_TIMES[0])
    assert store.message(checkout_token=control, step="first")["reason"] == HOLDOUT
    store.deliver("orders/paid", store.order(control, "2026-03-02T22:00:00+01:00", name="#1001"))
    with transaction(store.rt.sessions) as session:
        journey = session.scalars(select(Journey).where(Journey.flow == "recovery")).one()
        assert (journey.status, journey.holdout, journey.recovered_revenue) == ("converted", True, None)
    pending = [m for m in store.messages(checkout_token=control, flow="recovery") if m["step"] != "first"]
    assert {m["status"] for m in pending} == {"cancelled"}
    assert all(m["reason"].startswith("paid: order #1001") for m in pending)
    assert store.outbox() == []


def test_the_default_holds_out_10_percent_in_the_15_days_after_install_and_none_outside(rt, store, client):
    put_settings(rt, store, client, {"holdout_percent": None})  # the default, which the test shops turn off
    installed_at(store, INSTALLED)
    in_cycle = pick(rt, control_at=10, control=True, prefix="in")
    treated_in_cycle = pick(rt, control_at=10, control=False, prefix="in")
    after_cycle = pick(rt, control_at=10, control=True, prefix="after")
    before_install = pick(rt, control_at=10, control=True, prefix="before")

    abandon(store, in_cycle, "2026-03-15T19:00:00+01:00")  # day 15 of the cycle (ends 16 March 09:00 UTC)
    abandon(store, treated_in_cycle, "2026-03-15T19:00:00+01:00")
    abandon(store, after_cycle, "2026-03-16T10:30:00+01:00")  # 09:30 UTC: the cycle is over
    abandon(store, before_install, "2026-03-01T09:59:00+01:00")  # 08:59 UTC: not after the install
    assert journey_holdout(store, in_cycle) is True
    assert journey_holdout(store, treated_in_cycle) is False
    assert journey_holdout(store, after_cycle) is False
    assert journey_holdout(store, before_install) is False

    store.tick("2026-03-17T12:00:00+00:00")  # every step of all three is due
    assert {m["reason"] for m in store.messages(checkout_token=in_cycle)} == {HOLDOUT}
    for token in (treated_in_cycle, after_cycle, before_install):
        assert HOLDOUT not in {m["reason"] for m in store.messages(checkout_token=token)}
        assert any(m["status"] == "sent" for m in store.messages(checkout_token=token))


def test_an_explicit_zero_turns_the_holdout_off_in_the_cycle(rt, store, tmp_path):
    installed_at(store, INSTALLED)
    saved = cli_settings(store, tmp_path, {"holdout_percent": 0})
    assert saved.exit_code == 0, saved.output
    token = pick(rt, control_at=10, control=True)  # held out by the default in the cycle
    abandon(store, token)
    send_everything(store)
    assert journey_holdout(store, token) is False
    assert HOLDOUT not in {m["reason"] for m in store.messages(checkout_token=token)}
    assert store.message(checkout_token=token, step="first")["status"] == "sent"


def test_a_journeys_side_never_changes_when_the_setting_does(rt, store, client):
    put_settings(rt, store, client, {"holdout_percent": 50})
    control = pick(rt, control_at=50, control=True)
    created = [abandon(store, control)]
    put_settings(rt, store, client, {"holdout_percent": 0})
    treated = pick(rt, control_at=50, control=True, prefix="t")  # control at 50 %, but created at 0 %
    created.append(abandon(store, treated))
    put_settings(rt, store, client, {"holdout_percent": 50})

    # Both checkouts change after the setting did (each journey is planned again): neither moves.
    for payload in created:
        store.deliver("checkouts/update", {**payload, "updated_at": "2026-03-02T19:10:00+01:00"})
    assert (journey_holdout(store, control), journey_holdout(store, treated)) == (True, False)

    send_everything(store)
    assert {m["reason"] for m in store.messages(checkout_token=control)} == {HOLDOUT}
    assert HOLDOUT not in {m["reason"] for m in store.messages(checkout_token=treated)}
    assert any(m["status"] == "sent" for m in store.messages(checkout_token=treated))


# -- the settings section, through the admin API and the command line ---------------------------


def test_the_settings_document_shows_the_measurement_section(rt, store, client):
    shown = put_settings(rt, store, client, {"holdout_percent": 25, "attribution_days": 7})
    assert shown["measurement"] == {"holdout_percent": 25, "attribution_days": 7}
    shown = put_settings(rt, store, client, {"holdout_percent": None})
    assert shown["measurement"] == {"holdout_percent": None, "attribution_days": 7}


BAD = {"holdout_percent": 51, "attribution_days": 0}


@pytest.mark.parametrize(
    "bad", [BAD, {"holdout_percent": "10", "attribution_days": 31}, {"holdout_percent": -1.5, "attribution_days": None}]
)
def test_bad_measurement_values_are_422_naming_the_fields_and_nothing_is_saved(rt, store, client, bad):
    before = put_settings(rt, store, client, {"holdout_percent": 20})
    token = session_token(store.domain, api_key=rt.settings.shopify_api_key, secret=rt.settings.shopify_api_secret)
    bearer = {"Authorization": f"Bearer {token}"}
    response = client.put("/api/settings", json={**before, "measurement": bad}, headers=bearer)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert {e["field"] for e in errors} == {"measurement.holdout_percent", "measurement.attribution_days"}
    assert all(e["message"] for e in errors)
    assert client.get("/api/settings", headers=bearer).get_json()["settings"] == before


def test_bad_measurement_values_make_reclaim_settings_set_exit_2_listing_them(store, tmp_path):
    before = CliRunner().invoke(main, ["settings", "show", store.domain]).output
    refused = cli_settings(store, tmp_path, {"holdout_percent": 80, "attribution_days": 45, "window": 3})
    assert refused.exit_code == 2
    for field in ("measurement.holdout_percent", "measurement.attribution_days", "measurement.window"):
        assert field in refused.output, refused.output
    assert CliRunner().invoke(main, ["settings", "show", store.domain]).output == before
