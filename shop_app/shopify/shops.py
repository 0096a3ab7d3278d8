"""Shops and their settings: install, look up, read and save settings atomically.

Validating a settings document costs far more than reading it, and the send job needs the
settings for every message (issue 13): `settings_of` keeps each shop's parsed settings in the
process, keyed by the row's `updated_at` (and the shop's time zone, which the windows default to).
`save_settings` moves `updated_at` on every save, so the next read of the row after a save sees a
new key and parses the new document: the settings are never older than the row the caller read.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop_app.domain.settings import ShopSettings
from shop_app.domain.validation import FieldError, ValidationError
from shop_app.errors import UnknownShop
from shop_app.recovery.phones import region_code
from shop_app.shopify.offline_tokens import forget_token
from shop_app.shopify.signatures import clean_shop_domain
from shop_app.storage.secret_box import SecretBox
from shop_app.storage.tables import Shop, ShopSettingsRow, utcnow


def install_shop(
    session: Session,
    box: SecretBox,
    domain: str,
    token: str,
    *,
    name: str | None = None,
    timezone: str = "UTC",
    currency: str = "USD",
    country: str | None = None,
    now: datetime | None = None,
) -> Shop:
    """Register (or re-register) a shop with an Admin API token, sealed at rest. `country`
    (ISO 3166 alpha-2) is the region national phone numbers are read in; None keeps the one known."""
    domain = clean_shop_domain(domain)
    check_install_options(token, timezone, currency, country)
    shop = session.scalar(select(Shop).where(Shop.domain == domain))
    if shop is None:
        shop = Shop(domain=domain)
        session.add(shop)
    shop.name = name or domain.split(".")[0].replace("-", " ").title()
    shop.timezone = timezone
    shop.currency = currency.upper()
    if country is not None:
        shop.country_code = region_code(country)
    forget_token(shop)  # a custom app's token does not expire: no refresh token
    shop.access_token = box.seal(token)
    shop.status = "installed"
    shop.installed_at = now or utcnow()
    shop.uninstalled_at = None
    shop.setup_completed_at = shop.installed_at  # name, zone and currency were given here
    session.flush()
    return shop


def check_install_options(token: str, timezone: str | None, currency: str | None, country: str | None) -> None:
    """Raise ValidationError naming every bad one (None: not given)."""
    errors = []
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            errors.append(FieldError("timezone", f"unknown time zone {timezone!r}"))
    if currency is not None and not (len(currency) == 3 and currency.isalpha()):
        errors.append(FieldError("currency", "must be a three-letter ISO 4217 code"))
    if country is not None and region_code(country) is None:
        errors.append(FieldError("country", "must be a two-letter ISO 3166 country code"))
    if not token or len(token) > 512:
        errors.append(FieldError("token", "an Admin API access token is required"))
    if errors:
        raise ValidationError(errors)


def get_shop(session: Session, domain: str) -> Shop:
    shop = session.scalar(select(Shop).where(Shop.domain == clean_shop_domain(domain)))
    if shop is None:
        raise UnknownShop(f"no shop {domain} is installed")
    return shop


def load_settings(session: Session, shop: Shop) -> ShopSettings:
    row = session.get(ShopSettingsRow, shop.id)
    if row is None:
        return settings_of(shop.id, shop.timezone, None, None)
    return settings_of(shop.id, shop.timezone, row.document, row.updated_at)


#: Parsed settings kept per process: shop id -> ((updated_at, time zone), settings).
_parsed: dict[int, tuple[tuple[datetime | None, str], ShopSettings]] = {}
_parsed_lock = threading.Lock()
#: More shops than this in one process: the cache starts over (it is a cache, not a registry).
MAX_PARSED = 10_000


def settings_of(shop_id: int, timezone: str, document: dict | None, updated_at: datetime | None) -> ShopSettings:
    """The shop's settings from its row as just read (`document` None: no row, the defaults),
    parsed once per version of the row in this process. ShopSettings is immutable, so the kept
    object is shared."""
    key = (updated_at if document is not None else None, timezone)
    kept = _parsed.get(shop_id)
    if kept is not None and kept[0] == key:
        return kept[1]
    settings = ShopSettings.from_document(document or {}, shop_timezone=timezone)
    with _parsed_lock:
        if len(_parsed) >= MAX_PARSED:
            _parsed.clear()
        _parsed[shop_id] = (key, settings)
    return settings


def save_settings(session: Session, shop: Shop, document: object) -> ShopSettings:
    """Validate the whole document, then store its normalized form; raises ValidationError."""
    settings = ShopSettings.from_document(document, shop_timezone=shop.timezone)
    row = session.get(ShopSettingsRow, shop.id)
    if row is None:
        row = ShopSettingsRow(shop_id=shop.id, document={})
        session.add(row)
    row.document = settings.to_document()
    # A new version on every save, even within one tick of the clock: settings_of keys on it.
    previous = row.updated_at
    now = utcnow()
    row.updated_at = now if previous is None or now > previous else previous + timedelta(microseconds=1)
    session.flush()
    return settings
