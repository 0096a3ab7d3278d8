"""/flows and /flows/recovery through the real routes: what each page shows from the saved
settings, the shop's connections and its last 15 days; the recovery form's round trip through
PUT /api/settings, refused fields named like the page's controls, and one shop's pages never
showing or changing another's."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from admin_ui.pages import flows
from shop_app.adapters.twilio_messaging import TwilioAccount
from shop_app.channels.accounts import save_twilio
from shop_app.channels.transports import Transports
from shop_app.shopify.shops import get_shop
from shop_app.storage.database import transaction
from shop_app.storage.tables import ShopSettingsRow
from tests.admin_ui.conftest import ABANDONED, SHOP_A, SHOP_B

BROWSER = {"Accept": "text/html"}
#: Three days after the conftest's abandonment (2 March 2026): inside the 15 days.
SOON = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
#: Sixteen days after it: the same messages are outside the 15 days.
LATER = datetime(2026, 3, 18, 20, 0, tzinfo=UTC)

CONFIGURED = {
    "recovery": {
        "first": {
            "delay_minutes": 45,
            "channels": ["email"],
            "incentive": {"type": "percentage", "value": 10, "code": "BACK10"},
        },
        "whatsapp": {"delay_minutes": 360},
        "prime": {
            "delay_hours": 40,
            "channels": ["sms"],
            "incentive": {"type": "percentage", "value": "12.5", "code_mode": "unique", "expiry_hours": 48},
        },
    },
    "delivery_windows": {"channels": ["sms"]},
    "tone": "formal",
}


# --- reading pages -------------------------------------------------------------------------------


def page(client, sign_in, path: str, shop: str = SHOP_A) -> str:
    response = client.get(f"{path}?shop={shop}&id_token={sign_in(shop)}", headers=BROWSER)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def text_of(html: str, element_id: str) -> str:
    """The text inside the element with that id, tags removed, whitespace collapsed."""
    match = re.search(rf'<(s-[\w-]+)[^>]*\bid="{re.escape(element_id)}"[^>]*>(.*?)</\1>', html, re.S)
    assert match, f"no element #{element_id}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(2)).replace("&#39;", "'").split())


class _Controls(HTMLParser):
    """Every named Polaris control: name → its attributes, plus the options chosen in it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.controls: dict[str, dict] = {}
        self._open: dict | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag.startswith("s-") and "name" in found:
            control = {"tag": tag, **found, "chosen": []}
            self.controls[str(found["name"])] = control
            self._open = control if tag in ("s-select", "s-choice-list") else None
        elif tag in ("s-option", "s-choice") and self._open is not None and "selected" in found:
            self._open["chosen"].append(found["value"])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("s-select", "s-choice-list"):
            self._open = None


def controls(html: str) -> dict[str, dict]:
    parser = _Controls()
    parser.feed(html)
    return parser.controls


def shown_value(control: dict):
    """What the control shows, typed as static/flows.js reads it (`controlValue`)."""
    tag, kind = control["tag"], control.get("data-type")
    if tag in ("s-switch", "s-checkbox"):
        return "checked" in control
    if tag == "s-choice-list":
        return control["chosen"]
    text = (control["chosen"][0] if tag == "s-select" else control.get("value") or "").strip()
    if kind == "integer":
        return int(text) if re.fullmatch(r"-?\d+", text) else text
    if kind in ("decimal", "optional-text"):
        return text or None
    return text


def rendered_document(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="settings-document">(.*?)</script>', html, re.S)
    assert match
    return json.loads(match.group(1))


def set_path(document: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    for key in parents:
        document = document.setdefault(key, {})
    document[last] = value


def form_document(html: str, changes: dict | None = None) -> dict:
    """What the page's script PUTs: the rendered document with every control laid over it (as
    flows.js `overlay` does), after the merchant's `changes` (control name → value)."""
    document = copy.deepcopy(rendered_document(html))
    shown = {name: shown_value(c) for name, c in controls(html).items() if "[" not in name}
    for name, value in {**shown, **(changes or {})}.items():
        set_path(document, name, value)
    return document


def stored(rt, domain: str = SHOP_A) -> dict | None:
    with transaction(rt.sessions) as session:
        row = session.get(ShopSettingsRow, get_shop(session, domain).id)
        return None if row is None else copy.deepcopy(row.document)


def at(monkeypatch, now: datetime) -> None:
    monkeypatch.setattr(flows, "_now", lambda: now)


def without_twilio(rt, monkeypatch) -> None:
    """The app's email server is configured (nothing is sent here), but there is no development
    outbox and no Twilio account: SMS and WhatsApp are not connected."""
    settings = rt.settings.with_overrides(outbox_file=None, smtp_url="smtp://127.0.0.1:1")
    monkeypatch.setattr(rt, "transports", Transports(settings, rt.sessions, rt.box))


# --- /flows --------------------------------------------------------------------------------------


def test_flows_lists_each_recovery_step_with_status_channels_timing_and_incentive(client, store, sign_in):
    store.set_settings(CONFIGURED)
    html = page(client, sign_in, "/flows")
    assert text_of(html, "flow-recovery-status") == "On"
    assert (
        text_of(html, "step-first") == "First stimulus On Email 45 min after abandonment 10% off, code BACK10 0 0 0 0"
    )
    assert text_of(html, "step-whatsapp") == (
        "WhatsApp orchestration On WhatsApp 6 h after abandonment 10% off, code BACK10 0 0 0 0"
    )  # not windowed here, and it repeats the first offer
    assert text_of(html, "step-prime") == (
        "Revenue Recovery Prime On SMS 40 h after abandonment 12.5% off, unique code valid 48 h 0 0 0 0"
    )
    assert 'href="/flows/recovery"' in html


def test_steps_that_are_off_say_so(client, store, sign_in):
    store.set_settings({"recovery": {"whatsapp": {"enabled": False}, "prime": {"enabled": False}}})
    html = page(client, sign_in, "/flows")
    assert text_of(html, "step-whatsapp").startswith("WhatsApp orchestration Off")
    assert text_of(html, "step-prime").startswith("Revenue Recovery Prime Off")
    assert text_of(html, "flow-recovery-status") == "On"
    store.set_settings({"recovery": {"first": {"enabled": False}, "whatsapp": {"enabled": False},
                                     "prime": {"enabled": False}}})  # fmt: skip
    assert text_of(page(client, sign_in, "/flows"), "flow-recovery-status") == "Off"


def click_first_link(rt, client, body: str) -> None:
    path = re.search(re.escape(rt.settings.shopify_app_url) + r"(/c/[\w\-]+)", body)
    assert path, body
    assert client.get(path.group(1)).status_code == 302


def test_flows_counts_the_last_15_days_of_this_shop_only(rt, client, shops, sign_in, monkeypatch):
    # Both shops abandoned a checkout at 18:00 UTC; shop B's buyer came back to it at 19:00, which
    # moves B's first email to 20:00. At 19:00 only shop A's goes out; it is clicked, and A's
    # customer pays at 19:10: the order is credited to the email.
    shops.b.deliver("checkouts/update", shops.b.checkout("b-private-checkout", "2026-03-02T20:00:00+01:00"))
    shops.a.tick("2026-03-02T19:00:00+00:00")
    sent = shops.a.outbox()
    assert [m["channel"] for m in sent] == ["email"]
    click_first_link(rt, client, sent[0]["body"])
    shops.a.deliver("orders/paid", shops.a.order("a-checkout-1", "2026-03-02T19:10:00+00:00"))

    at(monkeypatch, SOON)
    a_page = page(client, sign_in, "/flows", SHOP_A)
    assert text_of(a_page, "step-first").endswith("1 1 1 1")  # sent, delivered (clicked), clicked, recovered
    assert text_of(a_page, "step-prime").endswith("0 0 0 0")  # cancelled once paid
    assert text_of(a_page, "flow-recovery-channels") == (
        "Step and channel Sent Delivered Clicked Recovered orders Recovered revenue "
        "First reminder by email 1 1 1 1 84.90 EUR"
    )
    assert text_of(a_page, "flow-recovery-results") == (
        "Abandoned checkouts 1 Recovered orders 1 Recovered revenue 84.90 EUR Recovery rate 100.0 %"
    )
    b_page = page(client, sign_in, "/flows", SHOP_B)
    assert text_of(b_page, "step-first").endswith("0 0 0 0") and 'id="flow-recovery-channels"' not in b_page
    assert text_of(b_page, "flow-recovery-results") == (
        "Abandoned checkouts 1 Recovered orders 0 Recovered revenue 0.00 EUR Recovery rate 0.0 %"
    )

    at(monkeypatch, LATER)  # the same rows, sixteen days on
    assert text_of(page(client, sign_in, "/flows", SHOP_A), "flow-recovery-results") == (
        "Abandoned checkouts 0 Recovered orders 0 Recovered revenue 0.00 EUR Recovery rate –"
    )


def test_sms_and_whatsapp_steps_need_a_connection_until_twilio_is_connected(rt, client, store, sign_in, monkeypatch):
    without_twilio(rt, monkeypatch)
    html = page(client, sign_in, "/flows")
    assert text_of(html, "step-first").startswith("First stimulus On Email, Browser push 1 h")
    assert text_of(html, "step-whatsapp").startswith(
        "WhatsApp orchestration Needs connection WhatsApp (needs connection)"
    )
    assert text_of(html, "step-prime").startswith(
        "Revenue Recovery Prime Needs connection SMS (needs connection), WhatsApp (needs connection)"
    )
    warnings = text_of(html, "flow-warnings")
    assert "WhatsApp orchestration is on but WhatsApp is not connected" in warnings
    assert "Prime sends by SMS but SMS is not connected" in warnings

    with transaction(rt.sessions) as session:
        account = TwilioAccount("AC" + "1" * 32, "token", messaging_service_sid="MG" + "2" * 32)
        save_twilio(session, rt.box, get_shop(session, SHOP_A).id, account)
    html = page(client, sign_in, "/flows")
    assert text_of(html, "step-prime").startswith("Revenue Recovery Prime On SMS, WhatsApp")
    assert 'id="flow-warnings"' not in html


# --- /flows/recovery: what it shows ----------------------------------------------------------


def test_recovery_form_shows_the_saved_values(client, rt, store, sign_in):
    store.set_settings(CONFIGURED)
    html = page(client, sign_in, "/flows/recovery")
    shown = {name: shown_value(control) for name, control in controls(html).items()}
    assert shown == {
        "recovery.first.enabled": True,
        "recovery.first.delay_minutes": 45,
        "recovery.first.channels": ["email"],
        "recovery.first.incentive.type": "percentage",
        "recovery.first.incentive.value": "10",
        "recovery.first.incentive.code_mode": "shared",
        "recovery.first.incentive.code": "BACK10",
        "recovery.first.incentive.expiry_hours": 72,
        "recovery.first.incentive.combines_with_shipping": False,
        "recovery.whatsapp.enabled": True,
        "recovery.whatsapp.delay_minutes": 360,
        "recovery.prime.enabled": True,
        "recovery.prime.delay_hours": 40,
        "recovery.prime.channels": ["sms"],
        "recovery.prime.incentive.type": "percentage",
        "recovery.prime.incentive.value": "12.5",
        "recovery.prime.incentive.code_mode": "unique",
        "recovery.prime.incentive.code": None,
        "recovery.prime.incentive.expiry_hours": 48,
        "recovery.prime.incentive.combines_with_shipping": False,
        "tone": "formal",
    }
    assert rendered_document(html) == stored(rt)
    assert "Save configuration" in html and "data-save-bar" in html


def test_every_control_is_named_by_a_field_of_the_settings_document(client, store, sign_in):
    """A 422's field is a control's name: each name must be a path the document really has."""
    html = page(client, sign_in, "/flows/recovery")
    document = rendered_document(html)
    for name in controls(html):
        node = document
        for key in name.split("."):
            assert isinstance(node, dict) and key in node, f"{name} is not a field of the settings document"
            node = node[key]
    assert len(controls(html)) == 21


def test_previews_render_each_steps_text_with_sample_data(client, rt, store, sign_in, bearer):
    store.set_settings(CONFIGURED)
    html = page(client, sign_in, "/flows/recovery")
    first = text_of(html, "preview-first")
    assert "Email · default text" in first and "Demo Shop" in first and "Linen shirt" in first
    assert "SAVE15-K7QM" in first  # the first step offers a discount: the sample code shows
    prime = text_of(html, "preview-prime")
    assert "SMS · default text" in prime and re.search(r"\d+ characters, \d segments? \(GSM-7\)", prime)
    assert "WhatsApp template" in prime and "Use code SAVE15-K7QM" in prime
    whatsapp = text_of(html, "preview-whatsapp")
    assert "Hi Emma, this is Demo Shop." in whatsapp

    body = (
        "Psst {{ first_name }}: {{ cart_summary }} ({{ cart_total }}) waits at {{ shop_name }}. "
        "{% if discount_code %}Code {{ discount_code }}. {% endif %}{{ recovery_link }} {{ unsubscribe_link }}"
    )
    response = client.put("/api/templates/first/email/en", json={"subject": "Psst, {{ shop_name }}", "body": body},
                          headers=bearer())  # fmt: skip
    assert response.status_code == 200, response.get_json()
    first = text_of(page(client, sign_in, "/flows/recovery"), "preview-first")
    assert "Email · your template" in first and "Psst, Demo Shop" in first
    assert "Psst Emma: 1 x Linen shirt, 2 x Straw hat (89.00 EUR) waits at Demo Shop. Code SAVE15-K7QM." in first
    assert "Browser push · default text" in first


def test_warnings_sit_above_the_form(client, store, sign_in):
    weak = copy.deepcopy(CONFIGURED)
    weak["recovery"]["first"]["incentive"] = {"type": "percentage", "value": 20, "code_mode": "unique",
                                              "expiry_hours": 24}  # fmt: skip
    store.set_settings(weak)
    warnings = text_of(page(client, sign_in, "/flows/recovery"), "recovery-warnings")
    assert "the second stimulus should be stronger than the first (12.5 is not more than 20)" in warnings
    assert "the first code stops working 30 h after abandonment, before Prime goes out at 40 h" in warnings


# --- /flows/recovery: saving -------------------------------------------------------------------


def test_the_form_saves_the_whole_document_and_the_page_shows_it(client, rt, store, sign_in, bearer):
    store.set_settings({"consent": {"email": "subscribers_only"}})  # not on this form: must survive
    html = page(client, sign_in, "/flows/recovery")
    document = form_document(html, {
        "recovery.first.delay_minutes": 30,
        "recovery.first.incentive.type": "free_shipping",
        "recovery.first.incentive.code": "SHIPFREE",
        "recovery.prime.delay_hours": 40,
        "recovery.prime.channels": ["whatsapp"],
        "recovery.prime.incentive.type": "fixed_amount",
        "recovery.prime.incentive.value": "7.50",
        "recovery.prime.incentive.code_mode": "unique",
        "recovery.whatsapp.enabled": False,
    })  # fmt: skip
    response = client.put("/api/settings", json=document, headers=bearer())
    assert response.status_code == 200, response.get_json()
    assert stored(rt)["consent"]["email"] == "subscribers_only"

    after = page(client, sign_in, "/flows/recovery")
    shown = {name: shown_value(control) for name, control in controls(after).items()}
    assert shown["recovery.first.delay_minutes"] == 30
    assert shown["recovery.first.incentive.type"] == "free_shipping"
    assert shown["recovery.prime.incentive.value"] == "7.5"
    assert shown["recovery.prime.channels"] == ["whatsapp"]
    assert shown["recovery.whatsapp.enabled"] is False
    assert rendered_document(after) == stored(rt)
    # Saving the page again unchanged is a no-op, not an error.
    assert client.put("/api/settings", json=form_document(after), headers=bearer()).get_json()["settings"] == stored(rt)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"recovery.first.delay_minutes": 2}, "recovery.first.delay_minutes", "from 5 to 10080"),
        ({"recovery.first.delay_minutes": "1.5"}, "recovery.first.delay_minutes", "whole number"),
        ({"recovery.first.channels": []}, "recovery.first.channels", "at least one channel"),
        ({"recovery.first.incentive.type": "percentage", "recovery.first.incentive.value": "150",
          "recovery.first.incentive.code": "X1"}, "recovery.first.incentive.value", "between 0 and 100"),
        ({"recovery.prime.incentive.code_mode": "shared", "recovery.prime.incentive.value": "15"},
         "recovery.prime.incentive.code", "type the discount code"),
        ({"recovery.prime.incentive.type": "free_shipping", "recovery.prime.incentive.code_mode": "unique",
          "recovery.prime.incentive.expiry_hours": 0}, "recovery.prime.incentive.expiry_hours", "from 1 to"),
    ],
)  # fmt: skip
def test_a_refused_field_is_named_like_its_control_and_nothing_is_saved(
    client, rt, store, sign_in, bearer, changes, field, message
):
    store.set_settings(CONFIGURED)
    before = stored(rt)
    html = page(client, sign_in, "/flows/recovery")
    document = form_document(html, {"tone": "informal", **changes})  # a valid change beside: not saved either
    response = client.put("/api/settings", json=document, headers=bearer())
    assert response.status_code == 422
    errors = {e["field"]: e["message"] for e in response.get_json()["errors"]}
    assert list(errors) == [field] and message in errors[field]
    assert field in controls(html)  # the message lands beside that control
    assert stored(rt) == before


# --- one shop, its own pages -------------------------------------------------------------------


def test_each_shop_sees_and_saves_only_its_own_configuration(client, rt, shops, sign_in, bearer):
    shops.b.set_settings(CONFIGURED)
    a_page, b_page = page(client, sign_in, "/flows/recovery", SHOP_A), page(client, sign_in, "/flows/recovery", SHOP_B)
    assert shown_value(controls(a_page)["recovery.first.delay_minutes"]) == 60
    assert shown_value(controls(b_page)["recovery.first.delay_minutes"]) == 45
    assert "BACK10" not in a_page

    b_before = stored(rt, SHOP_B)
    document = form_document(a_page, {"recovery.first.delay_minutes": 90})
    assert client.put("/api/settings", json=document, headers=bearer(SHOP_A)).status_code == 200
    assert stored(rt, SHOP_B) == b_before
    assert stored(rt, SHOP_A)["recovery"]["first"]["delay_minutes"] == 90

    for path in ("/flows", "/flows/recovery"):  # A's token naming shop B: refused, nothing of B shown
        response = client.get(f"{path}?shop={SHOP_B}&id_token={sign_in(SHOP_A)}", headers=BROWSER)
        assert response.status_code == 403 and "BACK10" not in response.get_data(as_text=True)


def test_the_pages_need_a_session(client, store):
    for path in ("/flows", "/flows/recovery"):
        response = client.get(path, headers=BROWSER)
        assert response.status_code == 302 and "/auth/session-token" in response.headers["Location"]


def test_the_abandonment_fixture_is_inside_the_window():
    assert (SOON - datetime.fromisoformat(ABANDONED)).days < flows.RESULT_DAYS
    assert (LATER - datetime.fromisoformat(ABANDONED)).days >= flows.RESULT_DAYS
