"""Install by authorization code grant through the real routes and the development Admin API:
/auth → Shopify's authorize page → /auth/callback → token stored sealed → setup job.

Queries are signed here by `sign`, written from contract shopify.md §2.3, not from the app's code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import func, select

from admin_ui import PUBLIC_ENDPOINTS
from admin_ui import install as install_module
from shop_app.storage.database import transaction
from shop_app.storage.tables import Shop
from tests.support import ShopifyStore

SHOP = "new-shop.myshopify.com"
OTHER = "other-shop.myshopify.com"
ROOT = Path(__file__).resolve().parents[2]


# --- helpers -----------------------------------------------------------------------------------


def sign(pairs: list[tuple[str, str]], secret: str) -> str:
    """Hex HMAC-SHA256 of the query as Shopify signs it (contract §2.3)."""
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        if key not in ("hmac", "signature"):
            grouped.setdefault(key, []).append(value)
    encoded = []
    for key, values in grouped.items():
        if key.endswith("[]"):
            key, value = key[:-2], json.dumps(values)
        else:
            (value,) = values
        key = key.replace("%", "%25").replace("=", "%3D")
        encoded.append(f"{key}={value.replace('%', '%25')}".replace("&", "%26"))
    message = "&".join(sorted(encoded, key=lambda pair: pair.split("=", 1)[0]))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signed(pairs: list[tuple[str, str]], secret: str) -> str:
    """A query string with its `hmac`."""
    return urlencode([*pairs, ("hmac", sign(pairs, secret))])


@pytest.fixture
def now(monkeypatch) -> datetime:
    """The routes' clock, frozen at the real time (the setup job and the dev server use real time)."""
    frozen = datetime.now(UTC).replace(microsecond=0)
    monkeypatch.setattr(install_module, "clock", lambda: frozen)
    return frozen


@pytest.fixture
def secret(rt) -> str:
    return rt.settings.shopify_api_secret


def ts(moment: datetime) -> str:
    return str(int(moment.timestamp()))


def start(client, secret: str, now: datetime, shop: str = SHOP):
    """GET /auth signed like Shopify; returns the response and the `state` it sent to Shopify."""
    response = client.get("/auth?" + signed([("shop", shop), ("timestamp", ts(now)), ("host", "aG9zdA")], secret))
    assert response.status_code == 302, response.get_data(as_text=True)
    return response, parse_qs(urlsplit(response.location).query)["state"][0]


def callback_query(secret: str, now: datetime, *, code: str, state: str, shop: str = SHOP) -> str:
    return "/auth/callback?" + signed(
        [("code", code), ("host", "aG9zdA"), ("shop", shop), ("state", state), ("timestamp", ts(now))], secret
    )


def shop_count(rt) -> int:
    with transaction(rt.sessions) as session:
        return session.scalar(select(func.count()).select_from(Shop))


def shop_row(rt, domain: str = SHOP) -> dict | None:
    with transaction(rt.sessions) as session:
        shop = session.scalar(select(Shop).where(Shop.domain == domain))
        return None if shop is None else {c.name: getattr(shop, c.name) for c in Shop.__table__.columns}


def assert_refused(response, status: int) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    assert "frame-ancestors" in response.headers["Content-Security-Policy"]


# --- configuration -----------------------------------------------------------------------------


def test_scopes_are_those_of_shopify_app_toml():
    toml = tomllib.loads((ROOT / "shopify.app.toml").read_text())
    assert toml["access_scopes"]["scopes"] == install_module.SCOPES


def test_both_install_routes_are_public(app):
    endpoints = {rule.endpoint: rule.rule for rule in app.url_map.iter_rules()}
    assert endpoints["admin_ui.install.start"] == "/auth"
    assert endpoints["admin_ui.install.callback"] == "/auth/callback"
    assert {"admin_ui.install.start", "admin_ui.install.callback"} <= PUBLIC_ENDPOINTS


def test_after_install_the_browser_goes_to_the_app_in_the_shopify_admin(rt):
    production = rt.settings.with_overrides(shopify_admin_base_url="https://{shop}")
    assert (
        install_module.embedded_app_url(production, SHOP)
        == f"https://admin.shopify.com/store/new-shop/apps/{rt.settings.shopify_api_key}"
    )
    assert install_module.embedded_app_url(rt.settings, SHOP) == f"/?shop={SHOP}"


# --- the happy path ----------------------------------------------------------------------------


def test_full_install_by_authorization_code(rt, client, admin_api, secret, now):
    admin_api.add_shop(SHOP, name="New Shop Ltd", iana_timezone="Asia/Tokyo", currency_code="JPY")

    response, state = start(client, secret, now)
    target = urlsplit(response.location)
    assert f"{target.scheme}://{target.netloc}{target.path}" == (
        admin_api.admin_base_url.replace("{shop}", SHOP) + "/admin/oauth/authorize"
    )
    assert parse_qs(target.query) == {
        "client_id": [rt.settings.shopify_api_key],
        "scope": ["read_orders,read_customers,write_discounts,write_app_proxy"],
        "redirect_uri": [rt.settings.shopify_app_url + "/auth/callback"],
        "state": [state],
    }
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("reclaim_oauth_state=")
    for attribute in ("HttpOnly", "SameSite=Lax", "Path=/auth", "Max-Age=600"):
        assert attribute in cookie
    assert "Secure" not in cookie  # the app URL is http://localhost in tests
    assert shop_count(rt) == 0

    code = admin_api.authorization_code(SHOP)
    response = client.get(callback_query(secret, now, code=code, state=state))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.location == f"/?shop={SHOP}"
    assert "reclaim_oauth_state=;" in response.headers["Set-Cookie"]  # the nonce is spent
    assert client.get_cookie("reclaim_oauth_state", path="/auth") is None

    row = shop_row(rt)
    assert row["status"] == "installed" and row["installed_at"] == now
    issued = admin_api._grants[-1]  # what the dev server handed out
    assert row["access_token"] and row["access_token"] != issued.access_token
    assert rt.box.open(row["access_token"]) == issued.access_token
    assert row["refresh_token"] and rt.box.open(row["refresh_token"]) == issued.refresh_token
    assert row["access_token_expires_at"] == now + timedelta(seconds=3600)
    assert row["scope"] == "read_orders,read_customers,write_discounts,write_app_proxy"
    assert row["setup_completed_at"] is None

    ShopifyStore(rt, client, SHOP).drain()
    row = shop_row(rt)
    assert (row["name"], row["timezone"], row["currency"]) == ("New Shop Ltd", "Asia/Tokyo", "JPY")
    assert row["setup_completed_at"] is not None


def test_the_previous_secret_is_accepted_during_a_rotation(rt, client, monkeypatch, secret, now):
    monkeypatch.setattr(
        rt,
        "settings",
        rt.settings.with_overrides(shopify_api_secret="the-new-app-secret", shopify_api_secret_previous=secret),
    )
    start(client, secret, now)
    start(client, "the-new-app-secret", now)


def test_the_state_cookie_is_secure_when_the_app_url_is_https(rt, client, monkeypatch, secret, now):
    monkeypatch.setattr(rt, "settings", rt.settings.with_overrides(shopify_app_url="https://reclaim.example"))
    response, _ = start(client, secret, now)
    assert "Secure" in response.headers["Set-Cookie"]
    assert "redirect_uri=https%3A%2F%2Freclaim.example%2Fauth%2Fcallback" in response.location


def test_array_parameters_are_signed_as_a_json_list(client, secret, now):
    pairs = [("ids[]", "1"), ("ids[]", "2"), ("shop", SHOP), ("timestamp", ts(now))]
    assert client.get("/auth?" + signed(pairs, secret)).status_code == 302


@pytest.mark.parametrize("offset", [-90, 90])
def test_timestamps_up_to_90_seconds_away_are_fresh(client, secret, now, offset):
    pairs = [("shop", SHOP), ("timestamp", ts(now + timedelta(seconds=offset)))]
    assert client.get("/auth?" + signed(pairs, secret)).status_code == 302


# --- refusals: the signed query, on both routes ------------------------------------------------


def bad_queries(secret: str, now: datetime, extra: list[tuple[str, str]]) -> dict[str, tuple[str, int]]:
    """name → (query string, expected status); `extra` are the callback's code and state, or nothing."""
    good = [*extra, ("shop", SHOP), ("timestamp", ts(now))]
    stale, future = ts(now - timedelta(seconds=91)), ts(now + timedelta(seconds=91))
    no_timestamp = [*extra, ("shop", SHOP)]
    with_shop = lambda shop: [*extra, ("shop", shop), ("timestamp", ts(now))]  # noqa: E731
    legit = signed(good, secret)
    return {
        "forged hmac": (urlencode([*good, ("hmac", "0" * 64)]), 401),
        "no hmac": (urlencode(good), 401),
        "other secret": (signed(good, "someone-elses-secret"), 401),
        "hmac of other params": (urlencode([*with_shop(OTHER), ("hmac", sign(good, secret))]), 401),
        "stale timestamp": (signed([*extra, ("shop", SHOP), ("timestamp", stale)], secret), 401),
        "future timestamp": (signed([*extra, ("shop", SHOP), ("timestamp", future)], secret), 401),
        "missing timestamp": (signed(no_timestamp, secret), 401),
        "junk timestamp": (signed([*extra, ("shop", SHOP), ("timestamp", "soon")], secret), 401),
        "shop added twice after": (legit + "&" + urlencode({"shop": OTHER}), 401),
        "shop added twice before": (urlencode({"shop": OTHER}) + "&" + legit, 401),
        "hmac twice": (legit + "&hmac=" + sign(good, secret), 401),
        # `a=1&b=2` and one parameter `a` = "1&b=2" must not share a signature.
        "one param posing as two": (
            urlencode([("a", "1&b=2"), *good, ("hmac", sign([("a", "1"), ("b", "2"), *good], secret))]),
            401,
        ),
        "key posing as key=value": (
            urlencode([("a=1&b", "2"), *good, ("hmac", sign([("a", "1"), ("b", "2"), *good], secret))]),
            401,
        ),
        "evil.com": (signed(with_shop("evil.com"), secret), 403),
        "myshopify.com as a subdomain": (signed(with_shop("shop.myshopify.com.evil.com"), secret), 403),
        "no shop": (signed([*extra, ("timestamp", ts(now))], secret), 403),
    }


BAD_QUERY_NAMES = list(bad_queries("s", datetime.now(UTC), []))


@pytest.mark.parametrize("name", BAD_QUERY_NAMES)
def test_auth_refuses_a_query_shopify_did_not_sign(rt, client, secret, now, name):
    query, status = bad_queries(secret, now, [])[name]
    response = client.get("/auth?" + query)
    assert_refused(response, status)
    assert "Set-Cookie" not in response.headers
    assert shop_count(rt) == 0


@pytest.mark.parametrize("name", BAD_QUERY_NAMES)
def test_callback_refuses_a_query_shopify_did_not_sign(rt, client, admin_api, secret, now, name):
    _, state = start(client, secret, now)
    code = admin_api.authorization_code(SHOP)
    query, status = bad_queries(secret, now, [("code", code), ("state", state)])[name]
    assert_refused(client.get("/auth/callback?" + query), status)
    assert shop_count(rt) == 0
    # Nothing was spent: the code and the state still complete the install.
    assert client.get(callback_query(secret, now, code=code, state=state)).status_code == 302
    assert shop_row(rt)["status"] == "installed"


# --- refusals: the state nonce -----------------------------------------------------------------


def test_callback_refuses_a_wrong_state(rt, client, admin_api, secret, now):
    start(client, secret, now)
    code = admin_api.authorization_code(SHOP)
    assert_refused(client.get(callback_query(secret, now, code=code, state="guessed")), 403)
    assert_refused(client.get(callback_query(secret, now, code=code, state="")), 403)
    assert shop_count(rt) == 0


def test_callback_refuses_the_state_of_another_shops_install(rt, client, admin_api, secret, now):
    _, state = start(client, secret, now, shop=OTHER)  # this browser started an install of OTHER only
    code = admin_api.authorization_code(SHOP)
    assert_refused(client.get(callback_query(secret, now, code=code, state=state)), 403)
    assert shop_count(rt) == 0


def test_callback_refuses_without_the_cookie(rt, app, client, admin_api, secret, now):
    _, state = start(client, secret, now)
    code = admin_api.authorization_code(SHOP)
    other_browser = app.test_client()
    assert_refused(other_browser.get(callback_query(secret, now, code=code, state=state)), 403)
    assert shop_count(rt) == 0


def test_callback_refuses_a_tampered_cookie(rt, client, admin_api, secret, now):
    _, state = start(client, secret, now)
    value = client.get_cookie("reclaim_oauth_state", path="/auth").value
    client.set_cookie("reclaim_oauth_state", value[:-2] + ("AA" if not value.endswith("AA") else "BB"), path="/auth")
    code = admin_api.authorization_code(SHOP)
    assert_refused(client.get(callback_query(secret, now, code=code, state=state)), 403)
    assert shop_count(rt) == 0


def test_callback_refuses_a_state_older_than_ten_minutes(rt, client, admin_api, monkeypatch, secret, now):
    _, state = start(client, secret, now)
    later = now + timedelta(minutes=10, seconds=1)
    monkeypatch.setattr(install_module, "clock", lambda: later)
    code = admin_api.authorization_code(SHOP)
    response = client.get(callback_query(secret, later, code=code, state=state))
    assert_refused(response, 403)
    assert "expired" in response.get_data(as_text=True)
    assert shop_count(rt) == 0


# --- refusals: the code ------------------------------------------------------------------------


def test_a_replayed_code_is_refused_and_changes_nothing(rt, client, admin_api, secret, now):
    _, state = start(client, secret, now)
    code = admin_api.authorization_code(SHOP)
    assert client.get(callback_query(secret, now, code=code, state=state)).status_code == 302
    before = shop_row(rt)

    _, fresh_state = start(client, secret, now)  # a new install attempt in this browser, the old code
    response = client.get(callback_query(secret, now, code=code, state=fresh_state))
    assert_refused(response, 400)
    assert "may have been used already" in response.get_data(as_text=True)
    assert shop_row(rt) == before
    assert client.get_cookie("reclaim_oauth_state", path="/auth") is None  # the nonce is spent anyway


def test_a_code_of_another_shop_is_refused(rt, client, admin_api, secret, now):
    _, state = start(client, secret, now)
    code = admin_api.authorization_code(OTHER)
    assert_refused(client.get(callback_query(secret, now, code=code, state=state)), 400)
    assert shop_count(rt) == 0


def test_a_callback_without_code_is_refused(rt, client, secret, now):
    _, state = start(client, secret, now)
    query = signed([("shop", SHOP), ("state", state), ("timestamp", ts(now))], secret)
    assert_refused(client.get("/auth/callback?" + query), 400)
    assert shop_count(rt) == 0


def test_an_unreachable_admin_api_answers_502(rt, client, admin_api, monkeypatch, secret, now):
    _, state = start(client, secret, now)
    code = admin_api.authorization_code(SHOP)
    monkeypatch.setattr(rt, "settings", rt.settings.with_overrides(shopify_admin_base_url="http://127.0.0.1:9/{shop}"))
    response = client.get(callback_query(secret, now, code=code, state=state))
    assert_refused(response, 502)
    assert shop_count(rt) == 0
