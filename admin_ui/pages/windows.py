"""/settings/windows: the delivery windows (README "delivery windows", product.md §2).

Per weekday a list of intervals, the time zone they are read in, and the channels that wait for
them; `static/windows.js` saves the whole settings document through `PUT /api/settings`, each
interval's field named by its path in the document (`delivery_windows.days.mon[0]`), so the
domain's message for a refused interval (one crossing midnight, say) lands on that field.

The page also answers "if a cart were abandoned now, when would WhatsApp go out?" with the
domain's own window code (`ShopSettings.whatsapp_time`) and the saved settings; the script
fetches the page again after a save to refresh it.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from flask import abort
from flask.typing import ResponseReturnValue

from admin_ui.auth import app_runtime, current_shop
from admin_ui.layout import render_page
from admin_ui.pages import bp
from admin_ui.pages.flows import channel_label
from shop_app.domain.models import Channel
from shop_app.domain.settings import WINDOWED_CHANNELS, ShopSettings
from shop_app.domain.windows import WEEKDAYS, WeeklyWindows, format_minute
from shop_app.shopify.shops import load_settings
from shop_app.storage.database import transaction
from shop_app.storage.tables import Shop

DAY_NAMES = dict(
    zip(WEEKDAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"), strict=True)
)
#: The IANA areas offered in the time zone list (the legacy aliases still load when saved).
ZONE_AREAS = (
    "Africa",
    "America",
    "Antarctica",
    "Arctic",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
)
INTERVAL_DASH = "\u2013"  # 09:00–21:00; the script also reads "-" and "—"


def _now() -> datetime:
    return datetime.now(UTC)


@cache
def zone_names() -> tuple[str, ...]:
    """The time zones offered: UTC and every zone of the IANA areas, sorted."""
    zones = (z for z in zoneinfo.available_timezones() if z.split("/", 1)[0] in ZONE_AREAS)
    return ("UTC", *sorted(zones))


def zone_choices(current: str) -> tuple[str, ...]:
    """The list, with the saved zone in it even when it is a legacy alias (US/Eastern)."""
    zones = zone_names()
    return zones if current in zones else (current, *zones)


@dataclass(frozen=True)
class DayRow:
    key: str  # mon … sun, as in the settings document
    name: str
    intervals: tuple[str, ...]  # "09:00–21:00"


def day_rows(windows: WeeklyWindows) -> list[DayRow]:
    return [
        DayRow(key, DAY_NAMES[key], tuple(f"{format_minute(s)}{INTERVAL_DASH}{format_minute(e)}" for s, e in day))
        for key, day in zip(WEEKDAYS, windows.days, strict=True)
    ]


def local_text(at: datetime, zone: str) -> str:
    """Tue 3 Mar 2026, 09:00."""
    local = at.astimezone(ZoneInfo(zone))
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M}"


@dataclass(frozen=True)
class Forecast:
    """What the page says about a cart abandoned now."""

    now: str  # "It is now … in Europe/Madrid."
    headline: str  # when WhatsApp would go out, or that it would not
    note: str | None = None  # why it waits, or that it does not


def whatsapp_forecast(settings: ShopSettings, now: datetime) -> Forecast:
    zone = settings.windows.timezone
    said = f"It is now {local_text(now, zone)} in {zone}."
    goes_out = settings.whatsapp_time(now)
    if goes_out is None:
        return Forecast(said, "WhatsApp orchestration is off, so no WhatsApp message would go out.")
    headline = f"If a cart were abandoned now, WhatsApp would go out at {local_text(goes_out, zone)} ({zone})."
    due = now + timedelta(minutes=settings.whatsapp.delay_minutes)
    if Channel.WHATSAPP not in settings.windowed_channels:
        return Forecast(
            said, headline, "WhatsApp does not wait for the delivery windows: it goes out when its delay ends."
        )
    if goes_out > due:
        note = f"Its delay ends at {local_text(due, zone)}, outside the delivery windows, so it waits for the next one."
        return Forecast(said, headline, note)
    return Forecast(said, headline)


@bp.get("/settings/windows")
def delivery_windows() -> ResponseReturnValue:
    rt = app_runtime()
    now = _now()
    with transaction(rt.sessions) as session:
        shop = session.get(Shop, current_shop().id)
        if shop is None:  # erased between authentication and now
            abort(401)
        settings = load_settings(session, shop)
    return render_page(
        "windows/index.html",
        title="Delivery windows",
        document=settings.to_document(),
        days=day_rows(settings.windows),
        timezone=settings.windows.timezone,
        zones=zone_choices(settings.windows.timezone),
        channels=[(c.value, channel_label(c), c in settings.windowed_channels) for c in WINDOWED_CHANNELS],
        forecast=whatsapp_forecast(settings, now),
    )
