"""The storefront side through the app proxy: signed requests only, for installed shops only,
and a subscription stored once, joined to the checkout of its cart."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from shop_app.channels.push_subscriptions import save_subscription, subscription_for, vapid_keys
from shop_app.shopify.app_proxy import ProxyRequestRejected, canonical, signed_query, verify_proxy_request
from shop_app.shopify.shops import get_shop
from shop_app.storage.database import transaction
from shop_app.storage.tables import CheckoutRow, Consent, PushSubscription
from tests.push_peer import Browser, b64url

SHOP = "demo-shop.myshopify.com"
ENDPOINT = "https://fcm.googleapis.com/fcm/send/dGVzdC1lbmRwb2ludA:APA91b-example"


def query(rt, *, shop=SHOP, prefix="/apps/reclaim", secret=None, timestamp=None, **extra) -> str:
    """The query string Shopify's proxy appends, signed like Shopify signs it."""
    params = {
        **extra,
        "shop": shop,
        "logged_in_customer_id": "",
        "path_prefix": prefix,
        "timestamp": str(int(time.time()) if timestamp is None else timestamp),
    }
    return urlencode(signed_query(params, secret or rt.settings.shopify_api_secret))


def subscribe(client, rt, payload, **options):
    body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    return client.post(
        f"/proxy/subscribe?{query(rt, **options)}", data=body, headers={"Content-Type": "application/json"}
    )


def subscription(endpoint: str = ENDPOINT) -> dict:
    return Browser(endpoint).subscription


def rows(rt) -> list[PushSubscription]:
    with transaction(rt.sessions) as session:
        return list(session.scalars(select(PushSubscription)))


# --- the signature ---------------------------------------------------------------------------------
def test_signature_is_sorted_pairs_joined_without_separator():
    secret, params = (
        "hush",
        [
            ("extra", "1"),
            ("extra", "2"),
            ("shop", "s.myshopify.com"),
            ("path_prefix", "/apps/r"),
            ("timestamp", "1317327555"),
            ("logged_in_customer_id", ""),
        ],
    )
    message = "extra=1,2logged_in_customer_id=path_prefix=/apps/rshop=s.myshopify.comtimestamp=1317327555"
    assert canonical(params) == message
    signature = hmac.new(b"hush", message.encode(), hashlib.sha256).hexdigest()
    proxied = verify_proxy_request(params + [("signature", signature)], (secret,), now=1317327555 + 30)
    assert (proxied.shop, proxied.path_prefix, proxied.logged_in_customer_id) == ("s.myshopify.com", "/apps/r", None)


def test_previous_secret_is_accepted_during_rotation():
    params = {"shop": "s.myshopify.com", "path_prefix": "/apps/r", "timestamp": "1000"}
    signed = list(signed_query(params, "old-secret").items())
    assert verify_proxy_request(signed, ("new-secret", "old-secret"), now=1000).shop == "s.myshopify.com"
    with pytest.raises(ProxyRequestRejected, match="does not match"):
        verify_proxy_request(signed, ("new-secret",), now=1000)


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda p: p + [("shop", "other.myshopify.com")], "more than once"),
        (lambda p: [(k, v) for k, v in p if k != "signature"], "missing"),
        (lambda p: [(k, "/apps/evil" if k == "path_prefix" else v) for k, v in p], "does not match"),
    ],
)
def test_tampered_queries_are_rejected(change, reason):
    signed = list(signed_query({"shop": "s.myshopify.com", "path_prefix": "/apps/r", "timestamp": "1000"}, "k").items())
    with pytest.raises(ProxyRequestRejected, match=reason):
        verify_proxy_request(change(signed), ("k",), now=1000)


def test_stale_timestamp_is_rejected():
    signed = list(signed_query({"shop": "s.myshopify.com", "path_prefix": "/apps/r", "timestamp": "1000"}, "k").items())
    assert verify_proxy_request(signed, ("k",), now=1090).timestamp == 1000
    with pytest.raises(ProxyRequestRejected, match="stale"):
        verify_proxy_request(signed, ("k",), now=1091)
    with pytest.raises(ProxyRequestRejected, match="stale"):
        verify_proxy_request(signed, ("k",), now=909)


# --- every route is behind the proxy check ---------------------------------------------------------------
@pytest.mark.parametrize("method, path", [("get", "push-key"), ("get", "sw.js"), ("post", "subscribe")])
def test_forged_or_missing_signature_is_401(client, rt, store, method, path):
    call = getattr(client, method)
    assert call(f"/proxy/{path}?shop={SHOP}&path_prefix=/apps/reclaim").status_code == 401
    assert call(f"/proxy/{path}?{query(rt, secret='not-the-app-secret')}").status_code == 401
    old = call(f"/proxy/{path}?{query(rt, timestamp=int(time.time()) - 3600)}")
    assert old.status_code == 401 and "stale" in old.get_json()["error"]


@pytest.mark.parametrize("method, path", [("get", "push-key"), ("get", "sw.js"), ("post", "subscribe")])
def test_unknown_or_uninstalled_shop_is_404(client, rt, store, method, path):
    call = getattr(client, method)
    assert call(f"/proxy/{path}?{query(rt, shop='elsewhere.myshopify.com')}").status_code == 404
    with transaction(rt.sessions) as session:
        get_shop(session, SHOP).status = "uninstalled"
    assert call(f"/proxy/{path}?{query(rt)}").status_code == 404


# --- the scripts -------------------------------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[2]
EXTENSION = ROOT / "extensions" / "reclaim-push"
ASSET = EXTENSION / "assets" / "reclaim-push.js"


def test_push_key_is_the_vapid_public_key(client, rt, store):
    response = client.get(f"/proxy/push-key?{query(rt)}")
    assert response.status_code == 200
    assert response.get_json() == {"vapidKey": vapid_keys(rt.sessions, rt.box).public}
    assert response.headers["Cache-Control"] == "public, max-age=3600"


def test_the_storefront_script_is_the_extensions_own_asset_and_asks_the_app_only_to_subscribe():
    """The app embed loads its script from the extension's assets (Shopify's CDN), not from the app;
    the script reaches the app through the proxy for the key, the worker and the subscription only."""
    block = (EXTENSION / "blocks" / "reclaim-push.liquid").read_text(encoding="utf-8")
    schema = json.loads(block.split("{% schema %}")[1].split("{% endschema %}")[0])
    assert schema["javascript"] == ASSET.name and ASSET.is_file()
    assert "<script src" not in block and 'id="reclaim-push-config"' in block
    text = ASSET.read_text(encoding="utf-8")
    assert sorted(set(re.findall(r"config\.proxy \+ '([^']*)'", text))) == ["/", "/push-key", "/subscribe", "/sw.js"]
    assert "fetch(" in text and text.count("fetch(") == 3  # cart.js, the key, the subscription
    # The browser prompt opens only from the shopper's click on the in-page offer, never on load.
    assert text.count("requestPermission") == 1
    assert text.index("requestPermission") > text.index("yes.addEventListener('click'")


def test_a_path_prefix_that_is_not_a_plain_path_is_refused(client, rt, store):
    response = client.get(f"/proxy/sw.js?{query(rt, prefix='/apps/x</script><script>alert(1)')}")
    assert response.status_code == 400


def test_service_worker_is_javascript_and_never_cached(client, rt, store):
    response = client.get(f"/proxy/sw.js?{query(rt)}")

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/javascript")
    assert response.headers["Cache-Control"] == "no-cache"
    text = response.get_data(as_text=True)
    assert "showNotification" in text and "openWindow" in text
    assert vapid_keys(rt.sessions, rt.box).public in text


# --- subscribing -----------------------------------------------------------------------------------
def test_subscribe_stores_the_subscription_joined_to_the_checkout(client, rt, store):
    store.deliver("checkouts/create", store.checkout("tok-1", "2026-03-02T18:00:00+01:00"))
    sub = subscription()

    response = subscribe(client, rt, {"subscription": sub, "cart_token": "cart-tok-1?key=secret-cart-key"})

    assert response.status_code == 201, response.get_json()
    [row] = rows(rt)
    with transaction(rt.sessions) as session:
        checkout = session.scalar(select(CheckoutRow).where(CheckoutRow.token == "tok-1"))
        consent = session.scalar(select(Consent).where(Consent.channel == "push"))
        assert row.cart_token == checkout.cart_token == "cart-tok-1"  # the cart key is not kept
        assert row.profile_id is not None and row.profile_id == checkout.profile_id
        assert (consent.state, consent.source, consent.address) == ("granted", "storefront", row.endpoint_hash)
        assert subscription_for(session, row.shop_id, "cart-tok-1") == {"endpoint": ENDPOINT, "keys": sub["keys"]}


def test_subscribing_again_keeps_one_row_and_follows_the_new_cart(client, rt, store):
    sub = subscription()
    assert subscribe(client, rt, {"subscription": sub, "cart_token": "cart-a"}).status_code == 201
    assert subscribe(client, rt, {"subscription": sub, "cart_token": "cart-a"}).status_code == 201
    assert subscribe(client, rt, {"subscription": sub, "cart_token": "cart-b"}).status_code == 201

    [row] = rows(rt)
    assert row.cart_token == "cart-b"
    with transaction(rt.sessions) as session:
        assert subscription_for(session, row.shop_id, "cart-a") is None
        assert len(list(session.scalars(select(Consent)))) == 1


def test_subscription_without_a_checkout_yet_has_no_profile(client, rt, store):
    assert subscribe(client, rt, {"subscription": subscription(), "cart_token": "cart-early"}).status_code == 201
    [row] = rows(rt)
    assert row.profile_id is None and row.cart_token == "cart-early"


def _keys(**changes) -> dict:
    sub = subscription()
    sub["keys"].update(changes)
    return sub


BAD_SUBSCRIPTIONS = [
    ("not json", "must be JSON"),
    ([1, 2], "JSON object"),
    ({"cart_token": "cart-1"}, "subscription must be an object"),
    ({"subscription": {"endpoint": ENDPOINT}, "cart_token": "cart-1"}, "keys"),
    ({"subscription": subscription("http://push.example/x"), "cart_token": "cart-1"}, "https"),
    ({"subscription": subscription("ftp://push.example/x"), "cart_token": "cart-1"}, "https"),
    ({"subscription": subscription("https://user:pw@push.example/x"), "cart_token": "cart-1"}, "credentials"),
    ({"subscription": subscription("https://push.example/" + "x" * 2000), "cart_token": "cart-1"}, "longer"),
    ({"subscription": _keys(p256dh=b64url(b"\x04" + b"\x01" * 64)), "cart_token": "cart-1"}, "P-256 curve"),
    ({"subscription": _keys(p256dh=b64url(b"\x04" * 33)), "cart_token": "cart-1"}, "65-octet"),
    ({"subscription": _keys(p256dh="not base64!"), "cart_token": "cart-1"}, "base64url"),
    ({"subscription": _keys(auth=b64url(b"\x00" * 8)), "cart_token": "cart-1"}, "16-octet"),
    ({"subscription": _keys(auth=12345), "cart_token": "cart-1"}, "keys.auth"),
    ({"subscription": subscription()}, "cart_token"),
    ({"subscription": subscription(), "cart_token": "x" * 65}, "cart_token"),
    ({"subscription": subscription(), "cart_token": "has space"}, "cart_token"),
]


@pytest.mark.parametrize("payload, message", BAD_SUBSCRIPTIONS)
def test_bad_input_is_400_with_a_reason(client, rt, store, payload, message):
    response = subscribe(client, rt, payload)
    assert response.status_code == 400, response.get_json()
    assert message in response.get_json()["error"]
    assert rows(rt) == []


def test_oversized_body_is_refused(client, rt, store):
    response = subscribe(client, rt, {"subscription": subscription(), "cart_token": "cart-1", "pad": "x" * 5000})
    assert response.status_code == 413
    assert rows(rt) == []


def test_non_utf8_body_is_400(client, rt, store):
    response = subscribe(client, rt, b"\xff\xfe{}")
    assert response.status_code == 400


def _now() -> datetime:
    return datetime.now(UTC)


def test_local_endpoints_only_in_development(rt, store):
    """http://127.0.0.1 is the test push service; in production it would let anyone aim our POSTs inward."""
    local = subscription("http://127.0.0.1:8999/push/x")
    with transaction(rt.sessions) as session:
        shop_id = get_shop(session, SHOP).id
        assert save_subscription(session, shop_id, "cart-1", local, _now()).endpoint.startswith("http://127.0.0.1")
        inward = (
            "http://127.0.0.1:8999/push/y",
            "https://10.0.0.5/push",
            "https://localhost/push",
            "https://localhost./x",
            "https://127.1./x",
            "https://metadata.google.internal/computeMetadata",
            "https://169.254.169.254.nip.io/latest",
            "https://fcm.googleapis.com.evil.example/x",
            "https://evilpush.apple.com.example/x",
        )
        for endpoint in inward:
            with pytest.raises(ValueError, match="not a known browser push service"):
                save_subscription(session, shop_id, "cart-1", subscription(endpoint), _now(), allow_local=False)
        for endpoint in (
            "https://fcm.googleapis.com/fcm/send/abc",
            "https://updates.push.services.mozilla.com/wpush/v2/x",
            "https://web.push.apple.com/QGx",
            "https://wns2-db5p.notify.windows.com/w/?token=x",
        ):
            assert (
                save_subscription(
                    session, shop_id, "cart-1", subscription(endpoint), _now(), allow_local=False
                ).endpoint
                == endpoint
            )


# --- the storefront script, run in node against fake browser APIs ------------------------------------------
HARNESS = r"""
// Runs the app embed's reclaim-push.js against fake browser APIs; prints what the script did as JSON.
const fs = require('fs');
const vm = require('vm');
const [source, scenario] = [fs.readFileSync(process.argv[2], 'utf8'), JSON.parse(process.argv[3])];
const log = [];
const storage = Object.assign({}, scenario.storage || {});
const buttons = {};

function element(tag) {
  return {
    tag, style: {}, children: [], textContent: '',
    setAttribute() {}, appendChild(child) { this.children.push(child); },
    addEventListener(type, handler) { if (type === 'click') { buttons[this.textContent] = handler; } },
    remove() { log.push(['offer-removed']); },
  };
}

const registration = {
  active: {},
  pushManager: {
    getSubscription: () => Promise.resolve(null),
    subscribe: (options) => {
      log.push(['subscribe', Buffer.from(options.applicationServerKey).toString('base64url'), options.userVisibleOnly]);
      return Promise.resolve({
        toJSON: () => ({ endpoint: 'https://push.example/x', keys: { p256dh: 'P', auth: 'A' } }),
      });
    },
  },
};

const context = {
  Shopify: { routes: { root: '/' } },
  PushManager: function () {},
  Notification: {
    permission: scenario.permission || 'default',
    requestPermission: () => {
      log.push(['permission-requested']);
      return Promise.resolve(scenario.answer || 'default');
    },
  },
  navigator: {
    serviceWorker: {
      register: (url, options) => { log.push(['register', url, options.scope]); return Promise.resolve(registration); },
    },
  },
  localStorage: {
    getItem: (key) => (key in storage ? storage[key] : null),
    setItem: (key, value) => { storage[key] = String(value); },
  },
  document: {
    readyState: 'complete',
    createElement: element,
    getElementById: (id) => (id === 'reclaim-push-config' ? { textContent: JSON.stringify(scenario.config) } : null),
    body: { appendChild: () => log.push(['offered']) },
  },
  fetch: (url, options) => {
    if (url.endsWith('cart.js')) { return Promise.resolve({ json: () => Promise.resolve(scenario.cart) }); }
    if (url.endsWith('/push-key')) {
      log.push(['key', url]);
      return Promise.resolve({ json: () => Promise.resolve({ vapidKey: scenario.key }) });
    }
    log.push(['post', url, JSON.parse(options.body)]);
    return Promise.resolve({ ok: true });
  },
  atob: (text) => Buffer.from(text, 'base64').toString('binary'),
  Uint8Array, String, Date, JSON, Promise,
};
context.window = context;

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
(async () => {
  vm.runInNewContext(source, context);
  await settle();
  if (scenario.click) { buttons[scenario.click](); await settle(); }
  process.stdout.write(JSON.stringify({ log, storage }));
})();
"""
CART = {"token": "cart-tok-1?key=k", "item_count": 2}


@pytest.fixture
def run_script(client, rt, store, tmp_path):
    """Run the app embed's script once per scenario (the block's config element says the proxy
    path; the proxy's push-key answers the app's key); returns (what it did, localStorage after)."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    key = client.get(f"/proxy/push-key?{query(rt)}").get_json()["vapidKey"]
    harness = tmp_path / "harness.js"
    harness.write_text(HARNESS)

    def run(**scenario):
        scenario = {"config": {"proxy": "/apps/reclaim"}, "key": key, **scenario}
        done = subprocess.run(
            ["node", str(harness), str(ASSET), json.dumps(scenario)],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        result = json.loads(done.stdout)
        return [tuple(step) for step in result["log"]], result["storage"]

    return run


@pytest.mark.slow  # runs node
def test_script_offers_nothing_for_an_empty_cart(run_script):
    assert run_script(cart={"token": "c", "item_count": 0}) == ([], {})


@pytest.mark.slow  # runs node
def test_script_offers_first_and_asks_the_browser_only_after_a_yes(run_script, rt):
    log, _ = run_script(cart=CART)
    assert log == [("offered",)]  # no permission prompt on page load

    log, storage = run_script(cart=CART, click="Remind me", answer="granted")
    key = vapid_keys(rt.sessions, rt.box).public
    subscription = {"endpoint": "https://push.example/x", "keys": {"p256dh": "P", "auth": "A"}}
    assert log == [
        ("offered",),
        ("offer-removed",),
        ("permission-requested",),
        ("register", "/apps/reclaim/sw.js", "/apps/reclaim/"),
        ("key", "/apps/reclaim/push-key"),
        ("subscribe", key, True),
        ("post", "/apps/reclaim/subscribe", {"subscription": subscription, "cart_token": "cart-tok-1?key=k"}),
    ]
    assert storage == {"reclaim:push-cart": "cart-tok-1?key=k"}


@pytest.mark.slow  # runs node
def test_script_remembers_a_no(run_script):
    log, storage = run_script(cart=CART, click="No thanks")
    assert ("permission-requested",) not in log and "reclaim:push-declined" in storage
    assert run_script(cart=CART, storage=storage) == ([], storage)
    log, storage = run_script(cart=CART, click="Remind me", answer="denied")  # the browser prompt said no
    assert "reclaim:push-declined" in storage and not any(step[0] == "post" for step in log)
    assert run_script(cart=CART, permission="denied") == ([], {})


@pytest.mark.slow  # runs node
def test_script_sends_a_new_cart_once_after_an_earlier_yes(run_script):
    earlier = {"reclaim:push-cart": "cart-old"}
    log, storage = run_script(cart=CART, permission="granted", storage=earlier)
    assert [step[0] for step in log] == ["register", "key", "subscribe", "post"]
    assert log[-1][2]["cart_token"] == CART["token"]
    assert run_script(cart=CART, permission="granted", storage=storage) == ([], storage)
    # Permission granted for some other purpose is not a yes to reminders: offer first.
    assert run_script(cart=CART, permission="granted") == ([("offered",)], {})


@pytest.mark.slow  # runs node
def test_script_without_a_usable_proxy_path_does_nothing(run_script):
    assert run_script(cart=CART, config={}) == ([], {})
    assert run_script(cart=CART, config={"proxy": "/apps/x</script>"}) == ([], {})
    log, _ = run_script(cart=CART, config={"proxy": "/tools/cart-help"}, click="Remind me", answer="granted")
    assert ("register", "/tools/cart-help/sw.js", "/tools/cart-help/") in log


SW_HARNESS = r"""
// Runs the served sw.js with a fake worker scope: one push, then a click on what it showed.
const fs = require('fs');
const vm = require('vm');
const [source, payload] = [fs.readFileSync(process.argv[2], 'utf8'), process.argv[3]];
const handlers = {}, log = [];
const self = {
  addEventListener: (type, handler) => { handlers[type] = handler; },
  skipWaiting() {},
  clients: {
    claim: () => Promise.resolve(),
    openWindow: (url) => { log.push(['open', url]); return Promise.resolve(); },
  },
  registration: {
    showNotification: (title, options) => { log.push(['show', title, options]); return Promise.resolve(); },
  },
};
vm.runInNewContext(source, { self, atob: (t) => Buffer.from(t, 'base64').toString('binary'), Uint8Array, JSON });
const waits = [];
handlers.push({ data: { json: () => JSON.parse(payload), text: () => payload }, waitUntil: (p) => waits.push(p) });
const shown = log[0][2];
handlers.notificationclick({ notification: { data: shown.data, close() {} }, waitUntil: (p) => waits.push(p) });
Promise.all(waits).then(() => process.stdout.write(JSON.stringify(log)));
"""


@pytest.mark.slow  # runs node
@pytest.mark.parametrize(
    "url, opened",
    [
        (
            "https://demo-shop.myshopify.com/checkouts/tok-1/recover",
            "https://demo-shop.myshopify.com/checkouts/tok-1/recover",
        ),
        ("javascript:alert(1)", "/"),
    ],
)
def test_service_worker_shows_the_push_and_opens_its_link(client, rt, store, tmp_path, url, opened):
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    (tmp_path / "sw.js").write_text(client.get(f"/proxy/sw.js?{query(rt)}").get_data(as_text=True))
    (tmp_path / "harness.js").write_text(SW_HARNESS)
    payload = {"title": "Your cart is waiting", "body": "Still there", "url": url, "tag": "t1"}
    done = subprocess.run(
        ["node", str(tmp_path / "harness.js"), str(tmp_path / "sw.js"), json.dumps(payload)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    show, open_ = json.loads(done.stdout)
    assert show == ["show", "Your cart is waiting", {"body": "Still there", "tag": "t1", "data": {"url": url}}]
    assert open_ == ["open", opened]


def test_deeply_nested_json_is_400_not_a_server_error(client, rt, store):
    response = subscribe(client, rt, "[" * 1500 + "]" * 1500)
    assert response.status_code == 400, response.get_json()
    assert "nested too deeply" in response.get_json()["error"]
    assert rows(rt) == []
