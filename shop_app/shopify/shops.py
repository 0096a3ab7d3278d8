"""Shops and their settings: install, look up, read and save settings atomically."""

from __future__ import annotations

from datetime import datetime
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
    errors = []
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        errors.append(FieldError("timezone", f"unknown time zone {timezone!r}"))
    if not (len(currency) == 3 and currency.isalpha()):
        errors.append(FieldError("currency", "must be a three-letter ISO 4217 code"))
    if country is not None and region_code(country) is None:
        errors.append(FieldError("country", "must be a two-letter ISO 3166 country code"))
    if not token or len(token) > 512:
        errors.append(FieldError("token", "an Admin API access token is required"))
    if errors:
        raise ValidationError(errors)
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


def get_shop(session: Session, domain: str) -> Shop:
    shop = session.scalar(select(Shop).where(Shop.domain == clean_shop_domain(domain)))
    if shop is None:
        raise UnknownShop(f"no shop {domain} is installed")
    return shop


def load_settings(session: Session, shop: Shop) -> ShopSettings:
    row = session.get(ShopSettingsRow, shop.id)
    if row is None:
        return ShopSettings.defaults(shop.timezone)
    return ShopSettings.from_document(row.document, shop_timezone=shop.timezone)


def save_settings(session: Session, shop: Shop, document: object) -> ShopSettings:
    """Validate the whole document, then store its normalized form; raises ValidationError."""
    settings = ShopSettings.from_document(document, shop_timezone=shop.timezone)
    row = session.get(ShopSettingsRow, shop.id)
    if row is None:
        row = ShopSettingsRow(shop_id=shop.id, document={})
        session.add(row)
    row.document = settings.to_document()
    row.updated_at = utcnow()
    session.flush()
    return settings
