"""Embedded-app authentication through the real routes: session tokens on fetches and documents,
the bounce page, the CSP header, and shop A's token never reaching shop B's data on any route."""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Blueprint, g
from sqlalchemy import select, update

from admin_ui import PUBLIC_ENDPOINTS
from admin_ui import auth as auth_module
from admin_ui.auth import current_shop, require_shop_session
from shop_app import create_app
from shop_app.messaging.merchant_templates import save_template
from shop_app.recovery.activity import message_rows
from shop_app.shopify.shops import get_shop, install_shop, load_settings
from shop_app.storage.database import transaction
from shop_app.storage.tables import DataRequest, Message, MessageTemplate, Shop, ShopSettingsRow, Suppression
from tests.admin_ui.conftest import SHOP_A, SHOP_B

RETRY = "X-Shopify-Retry-Invalid-Session-Request"
JSON = {"Accept": "application/json"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
CSP_A = f"frame-ancestors https://{SHOP_A} https://admin.shopify.com;"
CSP_ADMIN_ONLY = "frame-ancestors https://admin.shopify.com;"
APP_BRIDGE = '<script src="https://cdn.shopify.com/shopifycloud/app-bridge.js"></script>'

BAD_TOKENS = {
    "forged": {"secret": "not-the-app-secret"},
    "expired": {"now": time.time() - 3600},
    "wrong audience": {"api_key": "someone-elses-api-key"},
    "alg none": {"header": {"alg": "none", "typ": "JWT"}},
    "not yet valid": {"nbf": int(time.time()) + 300, "exp": int(time.time()) + 400},
}


# --- valid tokens ------------------------------------------------------------------------------


def test_valid_bearer_token_on_a_fetch_is_accepted(client, store, bearer):
    response = client.get("/api/settings", headers=bearer())
    assert response.status_code == 200
    assert set(response.get_json()) == {"settings", "warnings"}


def test_valid_id_token_on_a_document_load_renders_the_home_page(client, store, sign_in, rt):
    response = client.get(f"/?embedded=1&shop={SHOP_A}&host=YWRtaW4&id_token={sign_in()}", headers=BROWSER)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "Demo Shop" in page and SHOP_A in page
    assert f'<meta name="shopify-api-key" content="{rt.settings.shopify_api_key}">' in page
    assert APP_BRIDGE in page
    assert response.headers["Content-Security-Policy"] == CSP_A
    assert response.headers["Cache-Control"] == "no-store"


def test_the_shop_param_may_repeat_the_tokens_shop(client, store, bearer):
    assert client.get(f"/api/settings?shop={SHOP_A.upper()}", headers=bearer()).status_code == 200


def test_previous_secret_is_accepted_through_the_routes(rt, store, sign_in):
    rotated = dataclasses.replace(
        rt,
        settings=rt.settings.with_overrides(
            shopify_api_secret="brand-new-secret",
            shopify_api_secret_previous=rt.settings.shopify_api_secret,
        ),
    )
    client = create_app(runtime=rotated).test_client()
    old = {"Authorization": f"Bearer {sign_in(secret=rotated.settings.shopify_api_secret_previous)}"}
    new = {"Authorization": f"Bearer {sign_in(secret='brand-new-secret')}"}
    stranger = {"Authorization": f"Bearer {sign_in(secret='never-was-our-secret')}"}
    assert client.get("/api/settings", headers=old).status_code == 200
    assert client.get("/api/settings", headers=new).status_code == 200
    assert client.get("/api/settings", headers=stranger).status_code == 401


# --- bad tokens --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(BAD_TOKENS))
def test_bad_token_on_a_fetch_is_401_with_the_retry_header(client, store, bearer, kind):
    response = client.get("/api/settings", headers=bearer(**BAD_TOKENS[kind]))
    assert response.status_code == 401
    assert response.headers[RETRY] == "1"
    assert response.get_json()["error"].startswith("invalid session token: ")


@pytest.mark.parametrize("kind", list(BAD_TOKENS))
def test_bad_token_on_a_fetch_to_a_document_route_is_also_401(client, store, bearer, kind):
    response = client.get("/", headers=bearer(**BAD_TOKENS[kind]))
    assert response.status_code == 401
    assert response.headers[RETRY] == "1"


@pytest.mark.parametrize(
    "headers",
    [
        JSON,
        {"X-Requested-With": "XMLHttpRequest"},
        {"Sec-Fetch-Dest": "empty"},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
    ids=["accept-json", "xhr", "sec-fetch-empty", "empty-bearer", "basic-auth"],
)
def test_a_fetch_without_a_usable_token_is_401(client, store, headers):
    response = client.get("/", headers=headers)
    assert response.status_code == 401
    assert response.headers[RETRY] == "1"


def test_the_api_never_bounces_and_never_reads_id_token(client, store, sign_in):
    # A browser navigating to the API, even with a valid id_token, gets JSON 401, not a bounce.
    response = client.get(f"/api/settings?id_token={sign_in()}", headers=BROWSER)
    assert response.status_code == 401
    assert response.headers[RETRY] == "1"
    assert response.mimetype == "application/json"


@pytest.mark.parametrize("kind", list(BAD_TOKENS))
def test_bad_token_on_a_document_load_goes_to_the_bounce_page(client, store, sign_in, rt, kind):
    bad = sign_in(**BAD_TOKENS[kind])
    response = client.get(f"/?shop={SHOP_A}&host=YWRtaW4&id_token={bad}", headers=BROWSER)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/auth/session-token"
    query = parse_qs(location.query)
    assert query["shop"] == [SHOP_A] and query["host"] == ["YWRtaW4"] and "id_token" not in query
    reload_url = urlsplit(query["shopify-reload"][0])
    assert f"{reload_url.scheme}://{reload_url.netloc}" == rt.settings.shopify_app_url
    assert reload_url.path == "/"
    assert parse_qs(reload_url.query) == {"shop": [SHOP_A], "host": ["YWRtaW4"]}  # the stale token is gone

    bounce = client.get(response.headers["Location"], headers=BROWSER)
    assert bounce.status_code == 200
    assert bounce.headers["Content-Security-Policy"] == CSP_A


def test_a_document_load_without_a_token_goes_to_the_bounce_page(client, store):
    response = client.get(f"/?shop={SHOP_A}", headers=BROWSER)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/auth/session-token"


@pytest.mark.parametrize("path", ["/", "/auth/session-token", "/activity", "/api/messages"])
def test_a_query_string_that_is_not_utf8_is_answered_never_a_500(client, store, path):
    """A raw byte that is not UTF-8 in the query (gunicorn refuses such a request line, another
    WSGI server may pass it on) stays percent-encoded: the page answers as to any other bad
    `shop`. The CSP hook, which reads `shop` from the query on every page, raised on it."""
    response = client.get(path, environ_overrides={"QUERY_STRING": f"shop={SHOP_A}\xff&x=\xfe"}, headers=BROWSER)
    assert 300 <= response.status_code < 500


# --- the bounce page and CSP -------------------------------------------------------------------


def test_bounce_page_only_loads_app_bridge(client, rt):
    reload_url = f"{rt.settings.shopify_app_url}/?shop={SHOP_A}"
    response = client.get("/auth/session-token", query_string={"shop": SHOP_A, "shopify-reload": reload_url})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    head = page.split("<head>", 1)[1].split("</head>", 1)[0]
    assert f'<meta name="shopify-api-key" content="{rt.settings.shopify_api_key}">' in head
    assert APP_BRIDGE in head
    # App Bridge only: the CDN's, or outside production its stand-in when the CDN is unreachable.
    stand_in = '<script src="/dev/stand-ins/app-bridge.js"><\\/script>'
    fallback = f"<script>window.shopify || document.write('{stand_in}')</script>"
    assert fallback in head
    assert head.replace(fallback, "").count("<script") == 1
    assert page.split("<body>", 1)[1].split("</body>", 1)[0].strip() == ""
    assert response.headers["Content-Security-Policy"] == CSP_A


@pytest.mark.parametrize("shop", [None, "evil.example.com", "demo-shop.myshopify.com.evil.com", "admin.shopify.com"])
def test_bounce_page_frames_only_for_a_valid_shop_param(client, rt, shop):
    query = {"shopify-reload": f"{rt.settings.shopify_app_url}/"}
    if shop:
        query["shop"] = shop
    response = client.get("/auth/session-token", query_string=query)
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == CSP_ADMIN_ONLY


@pytest.mark.parametrize(
    "target",
    ["", "https://evil.example.com/", "//evil.example.com/", "javascript:alert(1)", "http://localhost:8080.evil.com/"],
)
def test_bounce_page_refuses_to_reload_anywhere_else(client, target):
    response = client.get("/auth/session-token", query_string={"shop": SHOP_A, "shopify-reload": target})
    assert response.status_code == 400
    assert response.headers["Content-Security-Policy"] == CSP_A


def test_bounce_page_accepts_a_relative_reload_path(client):
    response = client.get("/auth/session-token", query_string={"shopify-reload": "/?shop=x"})
    assert response.status_code == 200


def test_every_html_response_carries_the_csp_of_the_shop_in_question(client, rt, shops, sign_in):
    token_a = sign_in()
    reload_url = f"{rt.settings.shopify_app_url}/"
    answers = {
        "home": client.get(f"/?id_token={token_a}", headers=BROWSER),
        "home, fetched": client.get("/", headers={"Authorization": f"Bearer {token_a}"}),
        "bounce": client.get(f"/auth/session-token?shop={SHOP_A}&shopify-reload={reload_url}"),
        "bounce refused": client.get(f"/auth/session-token?shop={SHOP_A}&shopify-reload=https://evil.example.com/"),
        "shop mismatch": client.get(f"/?shop={SHOP_B}&id_token={token_a}", headers=BROWSER),
        "redirect to bounce": client.get(f"/?shop={SHOP_A}", headers=BROWSER),
    }
    with transaction(rt.sessions) as session:
        session.execute(update(Shop).where(Shop.domain == SHOP_A).values(status="uninstalled"))
    answers["not installed"] = client.get(f"/?id_token={token_a}", headers=BROWSER)

    assert {name: r.mimetype for name, r in answers.items()} == {name: "text/html" for name in answers}
    assert {name: r.headers.get("Content-Security-Policy") for name, r in answers.items()} == {
        name: CSP_A for name in answers
    }


def test_existing_csp_directives_are_kept_and_frame_ancestors_appended(app, store, sign_in):
    extra = Blueprint("extra_csp", __name__)

    @extra.get("/extra-csp")
    @require_shop_session
    def page():
        return "<p>x</p>", 200, {"Content-Security-Policy": "default-src 'self';"}

    app.register_blueprint(extra)
    response = app.test_client().get(f"/extra-csp?id_token={sign_in()}", headers=BROWSER)
    assert response.headers["Content-Security-Policy"] == f"default-src 'self'; {CSP_A}"


def test_json_responses_get_no_csp(client, store, bearer):
    assert "Content-Security-Policy" not in client.get("/api/settings", headers=bearer()).headers


# --- the shop comes only from the token --------------------------------------------------------


def test_a_different_shop_param_is_403_on_fetch_and_document(client, shops, bearer, sign_in):
    fetch = client.get(f"/api/settings?shop={SHOP_B}", headers=bearer())
    assert fetch.status_code == 403
    assert RETRY not in fetch.headers  # a fresh token would not change the answer
    document = client.get(f"/?shop={SHOP_B}&id_token={sign_in()}", headers=BROWSER)
    assert document.status_code == 403
    assert SHOP_A in document.headers["Content-Security-Policy"]


@pytest.mark.parametrize("query", [f"shop={SHOP_A}&shop={SHOP_B}", "shop=", "shop=not%20a%20shop"])
def test_every_shop_param_must_match(client, shops, bearer, query):
    assert client.get(f"/api/settings?{query}", headers=bearer()).status_code == 403


def test_a_valid_token_for_a_shop_not_installed_here_is_401_without_retry(client, store, bearer):
    response = client.get("/api/settings", headers=bearer("stranger.myshopify.com"))
    assert response.status_code == 401
    assert RETRY not in response.headers
    assert "not installed" in response.get_json()["error"]


def test_an_uninstalled_shop_is_refused(client, store, rt, bearer):
    with transaction(rt.sessions) as session:
        session.execute(update(Shop).where(Shop.domain == SHOP_A).values(status="uninstalled"))
    assert client.get("/api/settings", headers=bearer()).status_code == 401


def test_first_document_load_of_an_unknown_shop_calls_the_install_seam(client, store, sign_in, monkeypatch):
    calls = []
    monkeypatch.setattr(auth_module, "on_first_document_load", lambda shop, token: calls.append((shop, token)))
    token = sign_in("newcomer.myshopify.com")
    response = client.get(f"/?shop=newcomer.myshopify.com&id_token={token}", headers=BROWSER)
    assert calls == [("newcomer.myshopify.com", token)]
    # Not a bounce: a fresh token cannot install the app, so bouncing would reload forever.
    assert response.status_code == 401
    assert "not installed" in response.get_data(as_text=True)
    assert response.headers["Content-Security-Policy"] == (
        "frame-ancestors https://newcomer.myshopify.com https://admin.shopify.com;"
    )


def test_the_install_seam_can_install_the_shop_and_let_the_request_through(client, rt, store, sign_in, monkeypatch):
    def install(shop_domain: str, id_token: str) -> Shop:  # what token exchange will do
        with transaction(rt.sessions) as session:
            return install_shop(session, rt.box, shop_domain, "shpat_from_exchange", name="Newcomer")

    monkeypatch.setattr(auth_module, "on_first_document_load", install)
    response = client.get(f"/?id_token={sign_in('newcomer.myshopify.com')}", headers=BROWSER)
    assert response.status_code == 200
    assert "Newcomer" in response.get_data(as_text=True)


def test_the_seam_is_not_called_for_fetches(client, store, bearer, monkeypatch):
    monkeypatch.setattr(auth_module, "on_first_document_load", lambda *a: pytest.fail("called on a fetch"))
    assert client.get("/api/settings", headers=bearer("newcomer.myshopify.com")).status_code == 401


# --- the decorator -----------------------------------------------------------------------------


def test_require_shop_session_decorator_guards_a_view(app, store, bearer, sign_in):
    extra = Blueprint("extra", __name__)

    @extra.get("/extra/document")
    @require_shop_session
    def document():
        return f"<p>{current_shop().domain}</p>"

    @extra.get("/extra/json")
    @require_shop_session(documents=False)
    def data():
        return {"shop": current_shop().domain, "user": g.session_token.user_id}

    app.register_blueprint(extra)
    client = app.test_client()
    assert client.get("/extra/json", headers=bearer()).get_json() == {"shop": SHOP_A, "user": "42"}
    assert client.get("/extra/json").status_code == 401
    assert client.get(f"/extra/json?id_token={sign_in()}", headers=BROWSER).status_code == 401
    assert client.get(f"/extra/document?id_token={sign_in()}", headers=BROWSER).status_code == 200
    assert client.get("/extra/document", headers=BROWSER).status_code == 302
    assert client.get(f"/extra/document?shop={SHOP_B}", headers=bearer()).status_code == 403


def test_current_shop_outside_an_authenticated_request_is_an_error(app):
    with app.test_request_context("/"), pytest.raises(RuntimeError, match="require_shop_session"):
        current_shop()


# --- every admin route, shop A's token, shop B's data ------------------------------------------


TEMPLATE_KEY = {"step": "prime", "channel": "sms", "language": "en"}
B_TEXT = "Only-shop-B-writes-this"


def admin_rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("admin_ui.")]


def guarded_calls(app):
    """(endpoint, method, rule) for every admin route that needs a session, HEAD/OPTIONS aside."""
    calls = []
    for rule in admin_rules(app):
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            calls.append((rule.endpoint, method, rule))
    return calls


def owned_ids(rt, domain: str, message_id: int) -> dict:
    """Ids of rows the shop owns, for every id a route takes: the message, its journey, and a
    suppression its staff may lift and a data-request export, made here."""
    with transaction(rt.sessions) as session:
        shop_id = get_shop(session, domain).id
        suppression = Suppression(shop_id=shop_id, channel="sms", address=f"+3460000{shop_id:04d}",
                                  reason="replied 'STOP'", source="keyword")  # fmt: skip
        export = DataRequest(shop_id=shop_id, customer_id=f"walk-{shop_id}", export={"shop": domain})
        session.add_all([suppression, export])
        session.flush()
        journey_id = session.get_one(Message, message_id).journey_id
        return {"message_id": message_id, "journey_id": journey_id, "suppression_id": suppression.id,
                "export_id": export.id}  # fmt: skip


def url_for_rule(app, rule, values: dict) -> str:
    missing = set(rule.arguments) - set(values)
    assert not missing, (
        f"{rule.rule} takes {sorted(missing)}: add a value owned by each shop to the walk in "
        "test_every_admin_route_refuses_shop_b_data_to_a_shop_a_token, so the route is covered"
    )
    return app.url_map.bind("localhost").build(rule.endpoint, {k: values[k] for k in rule.arguments})


def snapshot(rt, domain: str) -> dict:
    with transaction(rt.sessions) as session:
        shop = get_shop(session, domain)
        row = session.get(ShopSettingsRow, shop.id)
        return {
            "shop": {c.name: getattr(shop, c.name) for c in Shop.__table__.columns},
            "settings_row": None if row is None else copy.deepcopy(row.document),
            "settings": load_settings(session, shop).to_document(),
            "messages": message_rows(session, domain),
            "suppressions": sorted(
                (r.id, r.channel, r.address, r.source)
                for r in session.scalars(select(Suppression).where(Suppression.shop_id == shop.id))
            ),
            "templates": [
                (t.step, t.channel, t.language, t.subject, t.body, t.html)
                for t in session.scalars(
                    select(MessageTemplate).where(MessageTemplate.shop_id == shop.id).order_by(MessageTemplate.id)
                )
            ],
        }


def test_public_endpoints_are_only_the_bounce_page_the_install_routes_scripts_and_dev_tools(app):
    endpoints = {rule.endpoint for rule in admin_rules(app)}
    assert {
        "admin_ui.auth.bounce",
        "admin_ui.install.start",
        "admin_ui.install.callback",
        "admin_ui.static",  # the pages' JavaScript: code, no data
        "admin_ui.dev.sign_in",  # development only (404 in production)
        "admin_ui.dev.stand_in",
    } == PUBLIC_ENDPOINTS
    assert endpoints >= PUBLIC_ENDPOINTS


def test_the_walk_sees_every_known_admin_route(app):
    walked = {(endpoint, method) for endpoint, method, _ in guarded_calls(app)}
    assert walked >= {
        ("admin_ui.pages.home", "GET"),
        ("admin_ui.api.read_settings", "GET"),
        ("admin_ui.api.write_settings", "PUT"),
        ("admin_ui.api.list_messages", "GET"),
        ("admin_ui.api.show_message", "GET"),
    }


def test_every_admin_route_refuses_without_a_valid_token(app, client, rt, shops, bearer):
    owned = {**owned_ids(rt, SHOP_A, shops.a_message_ids[0]), **TEMPLATE_KEY}
    for endpoint, method, rule in guarded_calls(app):
        url = url_for_rule(app, rule, owned)
        for headers in ({}, JSON, bearer(secret="forged"), bearer(now=time.time() - 3600), BROWSER):
            response = client.open(url, method=method, headers=headers, json={})
            if response.status_code == 302:
                assert "Authorization" not in headers and endpoint.startswith("admin_ui.pages."), (endpoint, method)
                assert urlsplit(response.headers["Location"]).path == "/auth/session-token"
            else:
                assert response.status_code == 401, (endpoint, method, headers, response.status_code)


def test_every_admin_route_refuses_shop_b_data_to_a_shop_a_token(app, client, rt, shops, bearer):
    owned_by_a = {**owned_ids(rt, SHOP_A, shops.a_message_ids[0]), **TEMPLATE_KEY}
    owned_by_b = {**owned_ids(rt, SHOP_B, shops.b_message_ids[0]), **TEMPLATE_KEY}
    with transaction(rt.sessions) as session:  # B has a text of its own that A must not see or change
        save_template(
            session,
            get_shop(session, SHOP_B).id,
            "prime",
            "sms",
            "en",
            subject=None,
            html=None,
            body=f"{B_TEXT} {{{{ shop_name }}}} {{{{ cart_summary }}}} {{{{ cart_total }}}} "
            "{% if discount_code %}{{ discount_code }}{% endif %} {{ recovery_link }} STOP",
        )
    b_secrets = [SHOP_B, "b-private-checkout", B_TEXT]
    before = snapshot(rt, SHOP_B)
    with transaction(rt.sessions) as session:
        valid_document = load_settings(session, get_shop(session, SHOP_A)).to_document()
    changed = copy.deepcopy(valid_document)
    changed["recovery"]["first"]["delay_minutes"] = 90  # a real change, were it ever applied to B

    calls = guarded_calls(app)
    assert calls, "no admin routes were found to walk"
    for _endpoint, method, rule in calls:
        body = changed if method in {"PUT", "POST", "PATCH"} else None
        label = f"{method} {rule.rule}"

        # 1. B named in the query string, with an otherwise valid request from A.
        url = url_for_rule(app, rule, owned_by_a)
        for query in (f"shop={SHOP_B}", f"shop={SHOP_A}&shop={SHOP_B}"):
            response = client.open(f"{url}?{query}", method=method, headers=bearer(), json=body)
            assert response.status_code in (401, 403, 404), (label, query, response.status_code)

        # 2. B's ids in the path (a template key names the same text for every shop: not an id).
        if set(rule.arguments) - set(TEMPLATE_KEY):
            response = client.open(url_for_rule(app, rule, owned_by_b), method=method, headers=bearer(), json=body)
            assert response.status_code in (401, 403, 404), (label, "B's ids", response.status_code)
            assert not any(s in response.get_data(as_text=True) for s in b_secrets), label

        # 3. B named in headers and in the body: whatever A's request does, it is to A, and nothing
        #    in the answer is B's.
        hinted = {**bearer(), "X-Shopify-Shop-Domain": SHOP_B, "X-Shop": SHOP_B}
        hinted_body = None if body is None else {**body, "shop": SHOP_B, "shop_domain": SHOP_B}
        for payload in (body, hinted_body):
            response = client.open(url, method=method, headers=hinted, json=payload)
            assert response.status_code < 500, (label, response.status_code)
            assert not any(s in response.get_data(as_text=True) for s in b_secrets), (label, "leaked B's data")

    after = snapshot(rt, SHOP_B)
    assert after == before, "shop B's data changed while only shop A's token was used"
    # The walk did reach real data: A's own requests were answered, so the refusals above mean something.
    own_message = url_for_rule(app, rule_for(app, "admin_ui.api.show_message"), owned_by_a)
    assert client.get(own_message, headers=bearer()).status_code == 200
    assert json.loads(client.get("/api/messages", headers=bearer()).data)["messages"]


def rule_for(app, endpoint: str):
    return next(rule for rule in app.url_map.iter_rules() if rule.endpoint == endpoint)


def test_the_b_walk_really_distinguishes_the_shops(client, shops, bearer):
    # B's token does see B's data, so A being refused above is about the shop, not the data.
    assert client.get(f"/api/messages/{shops.b_message_ids[0]}", headers=bearer(SHOP_B)).status_code == 200
    assert client.get(f"/api/messages/{shops.b_message_ids[0]}", headers=bearer(SHOP_A)).status_code == 404
    with_b = client.get("/api/messages", headers=bearer(SHOP_B)).get_json()["messages"]
    assert {m["shop"] for m in with_b} == {SHOP_B}
