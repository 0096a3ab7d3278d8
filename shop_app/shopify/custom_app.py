"""A merchant's custom app connected from the command line: `reclaim shop install` (issue 14, item 2).

In order, and nothing is stored until the token is known to work:
1. the options are checked (ValidationError);
2. the token is tried on the Admin API's `shop` query: a refused token, another shop's token or an
   Admin API that does not answer ends it (InstallRefused), nothing changed;
3. an installed shop keeps its time zone and currency: a re-run without --timezone/--currency
   keeps the stored ones (an earlier override too); an option naming another value needs `update`
   (else InstallRefused, nothing changed); with `update`, Shopify's for the others (`place`);
4. the shop is stored: the token sealed, the custom app's API secret sealed when given (it then
   verifies the shop's webhooks too: shop_secrets.py), its setup to do;
5. the webhook subscriptions are registered through the Admin API, only the missing ones
   (adapters/shopify_webhook_subscriptions.py): every topic of webhooks/routes.py but the
   compliance topics, which only the app's configuration can set;
6. the setup job runs in this process (`setup`: jobs/shop.after_install — the shop's details, its
   settings, its existing customers imported), so no Redis is needed;
7. what the options named (name, time zone, currency, country) is put over what Shopify said.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from shop_app.adapters.shopify_admin import AdminClient, RetryPolicy, ShopInfo
from shop_app.adapters.shopify_webhook_subscriptions import Registered, register
from shop_app.errors import AdminApiError, AdminApiUnauthorized, AdminApiUnavailable, AdminUserError, ReclaimError
from shop_app.recovery.phones import region_code
from shop_app.runtime import Runtime
from shop_app.shopify.offline_tokens import forget_token
from shop_app.shopify.shop_secrets import forget_cached, has_webhook_secret, store_webhook_secret
from shop_app.shopify.shops import check_install_options, save_settings
from shop_app.shopify.signatures import clean_shop_domain
from shop_app.shopify.topics import COMPLIANCE_TOPICS, TOPICS
from shop_app.storage.database import transaction
from shop_app.storage.tables import Shop, ShopSettingsRow

#: The command waits for an Admin API that does not answer only briefly: two tries, half a second apart.
INSTALL_RETRY = RetryPolicy(max_attempts=2, base_delay=0.5, max_delay=2.0)


class InstallRefused(ReclaimError):
    """The install cannot go on; the message is one line, without the token."""


@dataclass(frozen=True)
class Wanted:
    """What the command line asked for; None: what Shopify says."""

    token: str
    api_secret: str | None = None
    name: str | None = None
    timezone: str | None = None
    currency: str | None = None
    country: str | None = None
    update: bool = False


@dataclass(frozen=True)
class Installed:
    domain: str
    name: str
    timezone: str
    currency: str
    country_code: str | None
    webhooks: Registered
    setup: str
    own_secret: bool


def install_custom_app(
    rt: Runtime, domain: str, wanted: Wanted, setup: Callable[[int], str], now: datetime
) -> Installed:
    """Steps 1–7 above. Raises ValidationError (bad options) or InstallRefused."""
    domain = clean_shop_domain(domain)
    check_install_options(wanted.token, wanted.timezone, wanted.currency, wanted.country)
    if wanted.api_secret is not None and not 8 <= len(wanted.api_secret) <= 512:
        raise InstallRefused("the --api-secret given is not a Shopify API secret key (8 to 512 characters)")
    info = _shop_info(rt, domain, wanted.token)
    shop_id, timezone, currency = _store(rt, domain, wanted, info, now)
    forget_cached(domain)
    try:
        with _client(rt, domain, wanted.token) as client:
            registered = register(client, rt.settings.shopify_app_url, webhook_topics())
    except (AdminApiError, AdminApiUnavailable, AdminUserError) as exc:
        raise InstallRefused(
            f"{domain} is stored, but registering its webhooks failed: {_said(exc)}; run it again"
        ) from None
    done = setup(shop_id)
    with transaction(rt.sessions) as session:
        shop = session.get_one(Shop, shop_id)
        shop.timezone, shop.currency = timezone, currency  # Shopify's unless the options named others
        if wanted.name:
            shop.name = wanted.name
        if wanted.country is not None:
            shop.country_code = region_code(wanted.country)
        return Installed(
            domain, shop.name, shop.timezone, shop.currency, shop.country_code, registered, done,
            has_webhook_secret(session, shop_id),  # given now or at an earlier install
        )  # fmt: skip


def webhook_topics() -> tuple[str, ...]:
    """The topics a custom app subscribes to: every route's but the compliance topics."""
    return tuple(topic for topic in TOPICS if topic not in COMPLIANCE_TOPICS)


def _client(rt: Runtime, domain: str, token: str) -> AdminClient:
    return AdminClient(rt.settings, domain, token, sleep=rt.admin_sleep, policy=INSTALL_RETRY)


def _said(exc: Exception) -> str:
    """What went wrong, in words that never carry the token or a response body."""
    if isinstance(exc, AdminApiUnauthorized):
        return "Shopify refused the access token (401)"
    if isinstance(exc, AdminApiUnavailable):
        return f"the Admin API did not answer ({str(exc).rsplit(': ', 1)[-1]})"
    if isinstance(exc, AdminApiError) and exc.errors:
        return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in exc.errors)[:300]
    if isinstance(exc, AdminUserError):
        return str(exc)[:300]  # Shopify's userErrors: about the subscription, not the token
    status = getattr(exc, "status", None)
    return f"the Admin API answered HTTP {status}" if status else str(exc)[:300]


def _shop_info(rt: Runtime, domain: str, token: str) -> ShopInfo:
    try:
        with _client(rt, domain, token) as client:
            info = client.shop_info()
    except (AdminApiError, AdminApiUnavailable) as exc:
        raise InstallRefused(f"{domain} not installed: {_said(exc)}") from None
    if info.myshopify_domain != domain:
        raise InstallRefused(f"{domain} not installed: the token is {info.myshopify_domain}'s")
    return info


def _store(rt: Runtime, domain: str, wanted: Wanted, info: ShopInfo, now: datetime) -> tuple[int, str, str]:
    """(shop id, time zone, currency): see `place`."""
    with transaction(rt.sessions) as session:
        shop = session.scalar(select(Shop).where(Shop.domain == domain).with_for_update())
        timezone, currency = place(shop, wanted, info)
        if shop is not None and shop.status == "installed" and not wanted.update:
            _refuse_a_change(shop, timezone, currency)
        if shop is None:
            shop = Shop(domain=domain, name=wanted.name or domain.split(".")[0].replace("-", " ").title())
            session.add(shop)
        if shop.status != "installed" or shop.installed_at is None:
            shop.installed_at = now  # a re-run keeps the install's time (profiles captured since)
        shop.timezone, shop.currency, shop.status, shop.uninstalled_at = timezone, currency, "installed", None
        forget_token(shop)  # a custom app's token does not expire: no refresh token
        shop.access_token = rt.box.seal(wanted.token)
        shop.setup_completed_at, shop.setup_attempts, shop.setup_retry_at, shop.setup_error = None, 0, None, None
        session.flush()
        if session.get(ShopSettingsRow, shop.id) is None:
            save_settings(session, shop, {})  # the defaults, delivery windows in the zone chosen here
        if wanted.api_secret is not None:
            store_webhook_secret(session, rt.box, shop.id, wanted.api_secret)
        return shop.id, timezone, currency


def place(shop: Shop | None, wanted: Wanted, info: ShopInfo) -> tuple[str, str]:
    """The time zone and currency an install leaves the shop with. A new (or uninstalled) shop:
    the options', else Shopify's. An installed shop keeps its stored ones: a re-run without
    --timezone/--currency changes nothing (an earlier override stays, and Shopify's values are
    not taken over it); only an option naming another value is a change, and needs --update.
    With --update: the options', else Shopify's current values."""
    if shop is not None and shop.status == "installed" and not wanted.update:
        return wanted.timezone or shop.timezone, (wanted.currency or shop.currency).upper()
    return wanted.timezone or info.iana_timezone, (wanted.currency or info.currency_code).upper()


def _refuse_a_change(shop: Shop, timezone: str, currency: str) -> None:
    changes = [
        f"{what} {old} → {new}"
        for what, old, new in (("time zone", shop.timezone, timezone), ("currency", shop.currency, currency))
        if old != new
    ]
    if changes:
        raise InstallRefused(
            f"{shop.domain} is installed; this would change its {' and '.join(changes)}: "
            "add --update to change them (nothing was changed)"
        )
