"""The embedded admin in a real browser: Debian's Chromium driven by Playwright.

The app runs on 127.0.0.1 (werkzeug in a thread, over the test's runtime) and a tab signs in
through the development sign-in, as `reclaim demo --serve` prints it. Shopify's CDN scripts are
answered by the development stand-ins in shop_app/devtools/admin_standins (App Bridge: session
token, toasts, save bar, navigation; Polaris: every <s-*> tag, form controls as labelled native
controls), the same files the offline demo falls back to. They are stand-ins, not Shopify's
code: these tests check the pages' markup, scripts and server, not Polaris's look. Every other
request leaving 127.0.0.1 is refused, so the tests run offline.

Each tab records console errors and uncaught exceptions; a test that leaves any fails. Pages
are photographed into $RECLAIM_SCREENSHOTS (default: screenshots/ at the repository's root,
ignored by git); the run's summary lists the folder, so CI's log says what was taken.
Without Chromium or Playwright these tests skip, saying so, except under CI=true.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.serving import make_server

from shop_app.devtools import polaris_standin
from tests.storefront.test_in_a_browser import chromium_path
from tests.support import screenshots_folder

#: How long an action or an `expect` waits (only a failing test waits that long): room for two Chromiums
#: at once, one per xdist worker, on a slow two-core machine (Playwright's default is 5 s).
WAIT_MS = 15_000

try:  # the test modules take `expect` from here; without Playwright the `chromium` fixture skips (or fails in CI)
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
except ImportError:  # pragma: no cover - Playwright is a test dependency
    expect = None  # type: ignore[assignment]

STAND_INS = polaris_standin.STAND_IN.parent
CDN = {
    "https://cdn.shopify.com/shopifycloud/app-bridge.js": STAND_INS / "app-bridge.js",
    "https://cdn.shopify.com/shopifycloud/polaris-1.js": STAND_INS / "polaris.js",
}
BANNER = "Polaris look needs Shopify's CDN: showing development stand-ins"
#: ARIA roles of form controls; each must have an accessible name (its label).
FORM_ROLES = ("textbox", "searchbox", "spinbutton", "combobox", "listbox", "checkbox", "switch", "radio", "slider")
_UNNAMED = re.compile(rf"^\s*- ({'|'.join(FORM_ROLES)})(?: \[[^\]]*\])*(?::.*)?$")
#: Chromium's console line for an HTTP error answer, as the tab records it (with the URL).
_REFUSAL = re.compile(
    r"^Failed to load resource: the server responded with a status of (?P<status>\d+) .*\((?P<url>[^()]+)\)$"
)
#: The deepest focused element, through open shadow roots (Polaris controls live in them).
DEEP_FOCUS = """el => {
  let active = document.activeElement;
  while (active && active.shadowRoot && active.shadowRoot.activeElement) active = active.shadowRoot.activeElement;
  return active === el || (el.shadowRoot !== null && el.shadowRoot.contains(active));
}"""


@pytest.fixture(scope="package")
def chromium():
    """One Chromium for the package (a context per tab keeps tests apart); closed before other
    packages start their own Playwright."""
    path = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


class LiveServer:
    """The app over the test's runtime, on a free port of 127.0.0.1."""

    def __init__(self, app):
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.origin = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def live(rt, app) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        # The bounce page reloads only URLs of this app (SHOPIFY_APP_URL): this server.
        rt.settings = rt.settings.with_overrides(shopify_app_url=server.origin)
        yield server


class AdminTab:
    """One browser tab on the admin (signed in to one shop), with what its console said."""

    def __init__(self, browser, origin: str, *, cdn: bool = True):
        self.origin, self.shop, self.token = origin, "", ""
        self.errors: list[str] = []
        self.context = browser.new_context(viewport={"width": 1100, "height": 800})
        self.context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), self._outside)
        self.cdn_answers = cdn
        self.page = self.context.new_page()
        self.page.set_default_timeout(WAIT_MS)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def sign_in(self, shop: str) -> AdminTab:
        """The development sign-in, as `reclaim demo --serve` prints it: its redirect carries the session
        token (the tab opens pages with it; following the redirect would render Home first)."""
        self.shop = shop
        answer = self.context.request.get(f"{self.origin}/dev/sign-in?shop={shop}", max_redirects=0)
        assert answer.status == 302, answer.text()
        self.token = parse_qs(urlsplit(answer.headers["location"]).query)["id_token"][0]
        return self

    def _outside(self, route) -> None:
        """Shopify's CDN answers with the stand-ins (or is unreachable); nothing else leaves the machine."""
        stand_in = CDN.get(route.request.url)
        if stand_in is not None and self.cdn_answers:
            route.fulfill(path=stand_in, content_type="text/javascript")
        else:
            route.abort("internetdisconnected")

    def _console(self, message) -> None:
        if message.type == "error":
            where = message.location.get("url", "")
            self.errors.append(f"{message.text} ({where})")

    def take_errors(self) -> list[str]:
        """The console errors so far, forgotten (for a test that expects some, e.g. a refused page)."""
        taken, self.errors = self.errors, []
        return taken

    def take_refusals(self) -> list[str]:
        """The app's refusals the browser logged ("422 /api/…"), forgotten; other errors stay.

        Chromium logs every 4xx/5xx answer as a console error, also the 422 a page expects and
        shows on its fields; a test that provokes one names it by taking it."""
        refusals, others = [], []
        for error in self.errors:
            match = _REFUSAL.match(error)
            if match and match["url"].startswith(self.origin):
                refusals.append(f"{match['status']} {urlsplit(match['url']).path}")
            else:
                others.append(error)
        self.errors = others
        return refusals

    @property
    def auth(self) -> dict[str, str]:
        """The tab's session token as App Bridge's fetch would send it (for API checks)."""
        return {"Authorization": f"Bearer {self.token}"}

    def open(self, path: str) -> None:
        """Open `path` as the Shopify admin opens the app: with `id_token` in the URL."""
        self.page.goto(f"{self.origin}{path}{'&' if '?' in path else '?'}id_token={self.token}")

    def follow(self, path: str) -> None:
        """Go to `path` as a link inside the app does: without a token, through the bounce page."""
        self.page.goto(self.origin + path)

    def screenshot(self, name: str) -> Path:
        folder = screenshots_folder()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def unlabelled_controls(self) -> list[str]:
        """Form controls (through shadow roots) without an accessible name, from the page's ARIA tree."""
        tree = self.page.locator("body").aria_snapshot()
        return [line.strip() for line in tree.splitlines() if _UNNAMED.match(line)]

    def toasts(self) -> list[dict]:
        return self.page.evaluate("window.shopify.toast.shown")

    def wait_for_toast(self, count_before: int) -> dict:
        self.page.wait_for_function(f"window.shopify.toast.shown.length > {count_before}")
        return self.toasts()[-1]

    def tab_to(self, locator, *, limit: int = 80) -> None:
        """Press Tab until `locator` has the keyboard focus (a keyboard user reaching it)."""
        for _ in range(limit):
            if locator.evaluate(DEEP_FOCUS):
                return
            self.page.keyboard.press("Tab")
        if not locator.evaluate(DEEP_FOCUS):
            raise AssertionError(f"Tab never reached {locator} in {limit} presses")

    def type_over(self, text: str) -> None:
        """Replace the focused field's text by typing, as a keyboard user would."""
        self.page.keyboard.press("ControlOrMeta+A")
        self.page.keyboard.type(text)

    def save_by_keyboard(self) -> dict:
        """Tab to the save bar's Save, press Enter, and return the toast the page shows."""
        before = len(self.toasts())
        save_bar = self.page.get_by_role("region", name="Unsaved changes")
        self.tab_to(save_bar.get_by_role("button", name="Save", exact=True))
        self.page.keyboard.press("Enter")
        return self.wait_for_toast(before)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def admin(chromium, live) -> Iterator:
    """`admin(shop)` opens a tab signed in to `shop` (`admin(None)`: not signed in); every tab
    must end without console errors."""
    tabs: list[AdminTab] = []

    def open_tab(shop: str | None, *, cdn: bool = True) -> AdminTab:
        tab = AdminTab(chromium, live.origin, cdn=cdn)
        tabs.append(tab)
        return tab.sign_in(shop) if shop else tab

    yield open_tab
    errors = {f"tab {i} ({tab.shop or 'not signed in'})": tab.errors for i, tab in enumerate(tabs) if tab.errors}
    for tab in tabs:
        tab.close()
    assert errors == {}, "console errors in the admin"
