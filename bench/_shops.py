"""Shops for the benchmarks that run the real jobs (sustained.py, journey_bytes.py): each known to
the development Admin API (which answers their payment checks) and installed as the OAuth callback
would, with its token; `settings` saved when given, else the defaults (no settings row)."""

from __future__ import annotations

from shop_app import runtime
from shop_app.devtools.admin_api import AdminApiServer
from shop_app.shopify.shops import install_shop, save_settings
from shop_app.storage.database import transaction


def install_shops(
    rt: runtime.Runtime, admin: AdminApiServer, domains: list[str], timezone: str, settings: dict | None = None
) -> list[int]:
    """The shops' ids, in `domains`' order."""
    ids = []
    for domain in domains:
        admin.add_shop(domain, name="Bench Shop", iana_timezone=timezone, currency_code="EUR")
        with transaction(rt.sessions) as session:
            shop = install_shop(session, rt.box, domain, admin.issue_token(domain), name="Bench Shop",
                                timezone=timezone, currency="EUR")  # fmt: skip
            if settings is not None:
                save_settings(session, shop, settings)
            ids.append(shop.id)
    return ids
