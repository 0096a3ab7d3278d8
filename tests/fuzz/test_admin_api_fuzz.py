"""Fuzz the admin's JSON API (issue 9): every endpoint that changes something, with generated
bodies, path segments and query parameters, authenticated like App Bridge.

Each example sends one request, which must be answered below 500; when it changed something, the
page's read of it must then be a 200. What the API accepted is then used: settings plan the
checkouts delivered after them, and saved templates render in the messages the workers send
once the run is over.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

import jobs.dispatch
from shop_app import create_app, runtime
from shop_app.config import DEV_API_KEY, DEV_API_SECRET
from shop_app.devtools.twilio_api import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN
from shop_app.domain.settings import CODE_MODES, INCENTIVE_TYPES, TONES, ShopSettings
from shop_app.messaging.defaults import LANGUAGES, default_template
from shop_app.messaging.merchant_templates import EDITABLE
from shop_app.shopify.shops import get_shop
from shop_app.storage.database import transaction
from shop_app.storage.tables import DataRequest, Message, Suppression
from tests.admin_ui.conftest import SHOP_A, SHOP_B
from tests.fuzz.settling import settle
from tests.fuzz.strategies import JSON_VALUES, PLAIN_TEXT, bodies, fuzz_settings, mutated
from tests.support import ShopifyStore
from tests.tokens import claims_for, encode, session_token

pytestmark = [
    pytest.mark.slow,  # the fuzz suite: ~20 s under the dev profile, minutes under ci
    pytest.mark.filterwarnings("ignore:Generating overly large repr"),  # a failing 10 kB body is still reported
]


@dataclasses.dataclass
class Call:
    method: str
    path: str
    body: bytes | None = None
    query: str = ""
    reads: list[str] = dataclasses.field(default_factory=list)  # GETs that show what the call changed, if it did
    token: str | None = None  # a session token of its own; otherwise a valid one for SHOP_A
    upstream: bool = False  # asks a provider (Twilio, the email service): its refusal is a 502 by design


# --- what to send ------------------------------------------------------------------------------------

SETTINGS_VALUES = st.one_of(
    st.sampled_from([*CODE_MODES, *INCENTIVE_TYPES, *TONES, "email", "push", "sms", "whatsapp", "fax"]),
    st.sampled_from(["unless_unsubscribed", "subscribers_only", "phone_marketing", "explicit_optin"]),
    st.sampled_from(["00:00", "09:00", "21:00", "23:59", "24:00", "9:00", "25:61", "21:00-09:00"]),
    st.sampled_from(["UTC", "Pacific/Kiritimati", "Etc/GMT+12", "America/St_Johns", "Not/AZone", "../../etc"]),
    st.sampled_from([[], [["21:00", "09:00"]], [["00:00", "24:00"]], [["09:00", "09:00"]], [["10:00", "11:00"]] * 30]),
    st.integers(-2, 10_000),
    st.sampled_from([16, 40, 120, 360, 0.5, 1e308, float("nan"), "60", True]),
)
DEFAULT_SETTINGS = ShopSettings.defaults("Europe/Madrid").to_document()
TEMPLATE_VALUES = st.sampled_from(
    [
        "{{ first_name }}",
        "Hi {{ first_name }}, {{ recovery_link }} {{ unsubscribe_link }}",
        "{% if discount_code %}{{ discount_code }}{% endif %}",
        "{% for item in cart_items %}{{ item.title }} x{{ item.quantity }}\n{% endfor %}{{ more_items }}",
        "{{ cart_total * 10 ** 30 }}",
        "{{ first_name * 100000 }}",
        "{{ 9 ** 9 ** 9 }}",
        "{{ ''.__class__.__mro__ }}",
        "{{ first_name|attr('__class__') }}",
        "{{ shop_name|upper|truncate(3) }}",
        "{% for i in cart_items %}{% for j in cart_items %}{% endfor %}{% endfor %}",
        "{% include '/etc/passwd' %}",
        "{{",
        "{% if %}",
        "{{ missing_field }}",
        "<a href='{{ recovery_link }}'>{{ shop_name }}</a><script>x</script>",
        "Reply STOP to opt out",
    ]
)


def _template_path(draw: st.DrawFn, step: str, channel: str, language: str) -> str:
    """The template's path; now and then with a step, channel or language that names none."""
    parts = [step, channel, language]
    if draw(st.integers(0, 9)) == 0:
        parts[draw(st.integers(0, 2))] = quote(draw(PLAIN_TEXT), safe="")
    return "/api/templates/" + "/".join(parts)


@st.composite
def template_saves(draw: st.DrawFn) -> Call:
    """A template's default text in some tone, changed a little, saved to that template."""
    step, channel = draw(st.sampled_from(EDITABLE))
    language = draw(st.sampled_from(LANGUAGES))
    default = default_template(step, channel, language, draw(st.sampled_from(TONES)))
    seed = {"subject": default.subject, "body": default.body, "html": default.html}
    body = draw(bodies(mutated(st.just(seed), TEMPLATE_VALUES | JSON_VALUES)))
    return Call("PUT", _template_path(draw, step.value, channel.value, language), body, reads=["/api/templates"])


@st.composite
def template_resets(draw: st.DrawFn) -> Call:
    step, channel = draw(st.sampled_from(EDITABLE))
    path = _template_path(draw, step.value, channel.value, draw(st.sampled_from(LANGUAGES)))
    return Call("DELETE", path, reads=["/api/templates"])


def preview_documents() -> st.SearchStrategy:
    seed = st.fixed_dictionaries(
        {"channel": st.sampled_from(["email", "push", "sms"]), "body": TEMPLATE_VALUES},
        optional={
            "language": st.sampled_from(LANGUAGES),
            "tone": st.sampled_from(TONES),
            "step": st.sampled_from(["first", "prime"]),
            "subject": TEMPLATE_VALUES,
            "html": TEMPLATE_VALUES,
            "with_discount": st.booleans(),
        },
    )
    return mutated(seed, TEMPLATE_VALUES | JSON_VALUES)


TWILIO_ACCOUNT = {  # the development Twilio's account, so an accepted connection sends for real
    "account_sid": DEFAULT_ACCOUNT_SID,
    "auth_token": DEFAULT_AUTH_TOKEN,
    "messaging_service_sid": "MG" + "b" * 32,
    "from_number": "+14155550100",
    "whatsapp_from": "+14155238886",
}
MESSAGE_IDS = st.one_of(
    st.integers(-(2**70), 2**70).map(str), st.sampled_from(["1", "0", "-1", "1e3", "0x10"]), PLAIN_TEXT
)


@st.composite
def session_tokens(draw: st.DrawFn) -> str:
    """A session token signed with the app's secret (only Shopify could make one), its header and
    claims changed: every claim reaches the checks behind the signature."""
    header = {"alg": "HS256", "typ": "JWT"}
    if draw(st.integers(0, 4)) == 0:  # now and then a header of its own; mostly the claims
        header = draw(mutated(st.just(header)))
    claims = draw(mutated(st.builds(lambda: claims_for(SHOP_A, api_key=DEV_API_KEY))))
    return encode(header, claims, DEV_API_SECRET)


@st.composite
def queries(draw: st.DrawFn) -> str:
    """Mostly no query; otherwise a `shop` (ours or another), statuses, page cursors, or junk."""
    if draw(st.integers(0, 3)):
        return ""
    pairs = st.lists(
        st.tuples(
            st.sampled_from(["shop", "status", "after", "before", "limit", "x", "id_token"]),
            PLAIN_TEXT | st.sampled_from([SHOP_A, SHOP_B, "sent", "MTIz", "0", "-1", "9" * 30]),
        ),
        max_size=3,
    )
    return draw(pairs.map(urlencode) | st.sampled_from(["status=%ff", "shop=%00", "%zz=1&&="]))


TEST_SENDS = [
    {"channel": "email", "to": "ana@example.com", "language": "en"},
    {"channel": "sms", "to": "+34600111222", "language": "es"},
    {"channel": "whatsapp", "to": "+34600111222"},
]


@dataclasses.dataclass
class Held:
    """Row ids the shop has when the run starts, for the calls that name one."""

    message_ids: list[int]
    suppression_ids: list[int]
    export_ids: list[int]


def _ids(known: list[int]) -> st.SearchStrategy[int]:
    return st.sampled_from(known) | st.integers(0, 2**64)


def endpoints(held: Held) -> dict[str, st.SearchStrategy[Call]]:
    """Every group of calls the test fuzzes, one strategy each."""
    lift = st.builds(
        lambda suppression_id, body: Call(
            "POST", f"/api/suppressions/{suppression_id}/lift", body, reads=["/api/suppressions"]
        ),  # fmt: skip
        _ids(held.suppression_ids),
        bodies(mutated(st.just({"confirm": True}))),
    )
    whatsapp = st.sampled_from(["/api/channels/whatsapp-templates", "/api/channels/whatsapp-templates/refresh"])
    return {
        "settings": st.builds(
            lambda body: Call("PUT", "/api/settings", body, reads=["/api/settings"]),
            bodies(mutated(st.just(DEFAULT_SETTINGS), SETTINGS_VALUES | JSON_VALUES)),
        ),
        "template-save": template_saves(),
        "template-reset": template_resets(),
        "template-preview": st.builds(
            lambda body: Call("POST", "/api/templates/preview", body), bodies(preview_documents())
        ),
        "twilio": st.one_of(
            st.builds(
                lambda body: Call("PUT", "/api/channels/twilio", body, reads=["/api/channels"]),
                bodies(mutated(st.just(TWILIO_ACCOUNT))),
            ),
            st.just(Call("DELETE", "/api/channels/twilio", reads=["/api/channels"])),
            st.builds(lambda path: Call("POST", path, reads=["/api/channels"], upstream=True), whatsapp),
        ),
        "test-send": st.builds(
            lambda body: Call("POST", "/api/channels/test", body, upstream=True),
            bodies(mutated(st.sampled_from(TEST_SENDS))),
        ),
        "privacy": st.one_of(
            lift,
            st.builds(lambda query: Call("GET", "/api/exports", query=query), queries()),
            st.builds(lambda export_id: Call("GET", f"/api/exports/{export_id}"), _ids(held.export_ids)),
        ),
        "session": st.one_of(
            st.builds(lambda token: Call("GET", "/api/settings", token=token), session_tokens()),
            st.builds(lambda call, token: dataclasses.replace(call, token=token), lift, session_tokens()),
        ),
        "messages": st.one_of(
            st.builds(lambda query: Call("GET", "/api/messages", query=query), queries()),
            st.builds(lambda message_id: Call("GET", f"/api/messages/{message_id}"), _ids(held.message_ids)),
            st.builds(lambda message_id: Call("GET", f"/api/messages/{quote(message_id, safe='')}"), MESSAGE_IDS),
        ),
    }


ENDPOINTS = ["settings", "template-save", "template-reset", "template-preview", "twilio", "test-send", "privacy",
             "session", "messages"]  # fmt: skip


# --- the run -------------------------------------------------------------------------------------------


@pytest.fixture
def shop(rt, admin_api, twilio_api, monkeypatch):
    """The demo shop on a runtime with the development app credentials (the tokens are signed with
    them) and the development Twilio, which checks every request."""
    monkeypatch.setattr(jobs.dispatch, "INGEST_GRACE_SECONDS", 0)
    settings = rt.settings.with_overrides(
        shopify_api_key=DEV_API_KEY,
        shopify_api_secret=DEV_API_SECRET,
        shopify_api_secret_previous=None,
        twilio_api_base_url=twilio_api.api_base,
        twilio_content_base_url=twilio_api.content_base,
    )
    fuzz_rt = runtime.install(runtime.Runtime.build(settings))
    try:
        client = create_app(runtime=fuzz_rt).test_client()
        store = ShopifyStore.install(fuzz_rt, client, SHOP_A, timezone="Europe/Madrid", admin_api=admin_api)
        store.deliver("checkouts/create", store.checkout("before", datetime.now(UTC).isoformat()))
        yield store
    finally:
        fuzz_rt.close()
        runtime.install(rt)


#: Suppressions of every kind the privacy page shows: staff may lift the first two, not the others.
SUPPRESSIONS = {"keyword": 100, "unsubscribe": 50, "provider": 30, "erased": 20}


@pytest.fixture
def held(shop) -> Held:
    """A data-request export and suppressions to lift, and the ids of what the shop holds."""
    customer = {"id": 7001, "email": "ana@example.com", "phone": "+34600111222"}
    shop.deliver("customers/data_request", {"shop_domain": SHOP_A, "customer": customer, "data_request": {"id": 1}})
    with transaction(shop.rt.sessions) as session:
        shop_id = get_shop(session, SHOP_A).id
        kinds = [kind for kind, count in SUPPRESSIONS.items() for _ in range(count)]
        for n, kind in enumerate(kinds):
            channel, address = ("sms", f"+346001{n:05d}") if n % 2 else ("email", f"c{n}@example.com")
            source = "keyword" if kind == "erased" else kind
            if kind == "erased":  # an erased customer's opt-out, kept as a keyed hash
                address = f"hmac-sha256:{n:064x}"
            session.add(Suppression(shop_id=shop_id, channel=channel, address=address, reason=kind, source=source))
    with transaction(shop.rt.sessions) as session:
        return Held(
            message_ids=list(session.scalars(select(Message.id))),
            suppression_ids=list(session.scalars(select(Suppression.id))),
            export_ids=list(session.scalars(select(DataRequest.id))),
        )


def deliver_a_checkout(store, n: int) -> None:
    """Checkout n % 4 (re)planned with the settings as they are now, in Spanish every other time:
    few checkouts, so the messages sent after the run stay few."""
    payload = store.checkout(f"after-{n % 4}", datetime.now(UTC).isoformat(), customer_locale="es" if n % 2 else "en")
    store.deliver("checkouts/update", payload)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_any_request_is_answered_below_500(shop, held, twilio_api, endpoint):
    answers: Counter[int] = Counter()
    accepted: list[Call] = []

    @fuzz_settings(5)  # 500 requests per group under ci, 4,500 in all
    @given(call=endpoints(held)[endpoint], query=queries())
    def send_one(call: Call, query: str) -> None:
        token = call.token or session_token(SHOP_A)
        headers = {"Authorization": f"Bearer {token}"}
        if call.body is not None:
            headers["Content-Type"] = "application/json"
        query_string = "&".join(part for part in (call.query, query) if part)
        response = shop.client.open(call.path, method=call.method, data=call.body, headers=headers,
                                    query_string=query_string)  # fmt: skip
        refused_upstream = call.upstream and response.status_code == 502  # the provider said no: by design
        assert response.status_code < 500 or refused_upstream, (call, query, response.get_data(as_text=True)[:500])
        answers[response.status_code] += 1
        changed = response.status_code < 300
        for path in call.reads if changed else ():  # what the shop's admin sees next, with a valid token
            read = shop.client.get(path, headers={"Authorization": f"Bearer {session_token(SHOP_A)}"})
            assert read.status_code == 200, (call, path, read.get_data(as_text=True)[:500])
        if response.status_code == 200 and call.method != "GET":
            accepted.append(call)
            if endpoint == "settings":
                deliver_a_checkout(shop, len(accepted))

    send_one()
    for n in range(2):  # the templates and settings the API kept, used for real
        deliver_a_checkout(shop, n)
    outcome = settle(shop, datetime.now(UTC))
    errors = sum(n for code, n in answers.items() if code >= 500 and code != 502)
    print(
        f"\nadmin {endpoint}: {sum(answers.values())} requests, {errors} x 5xx, {answers[502]} x 502 from a provider "
        f"(answers {dict(sorted(answers.items()))}), {len(accepted)} accepted; {outcome.summary()}"
    )
    assert outcome.left_non_final == 0
    assert outcome.broken_runs == 0
    # Never a request Twilio's spec refuses; a wrong auth token (401) is the merchant's, answered with a 502.
    invalid = [r.problems for r in twilio_api.refused if r.status != 401]
    assert invalid == []
