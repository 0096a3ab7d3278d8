"""/flows, /flows/recovery: the engagement flows, and the Revenue Recovery configuration.

`/flows` lists every flow with its steps: on, off or "needs connection", channels, timing,
incentive, and the last RESULT_DAYS days' results. Revenue Recovery's are the report's
(shop_app/reporting/measurement.py, as Home and `GET /api/report?days=15` give them): per step and
channel the messages sent, delivered and clicked and the orders credited, and the abandoned
checkouts, recovered orders, revenue and recovery rate of the journeys abandoned in the range.
Referral Generation's card (referral_card.py) shows its steps and its results from the shared read
model (shop_app/reporting/referral.py).

`/flows/recovery` edits each step's channels, timing and incentive in one form that
`static/flows.js` saves whole through `PUT /api/settings` (each control's `name` is the settings
document's dotted field, so a refused field gets its message beside it). Warnings come from
`ShopSettings.warnings` with the shop's connection facts, and every step shows a preview of its
content per channel: the shop's own template or the default, rendered with sample data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from flask import abort
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from admin_ui.auth import app_runtime, current_shop
from admin_ui.layout import render_page
from admin_ui.pages import bp
from admin_ui.pages.referral_card import latest_paid_orders, referral_card
from shop_app.domain.models import Channel, Step
from shop_app.domain.settings import (
    CHANNEL_NAMES,
    CODE_MODES,
    INCENTIVE_TYPES,
    PRIME_DELAYS,
    TONES,
    WHATSAPP_DELAYS,
    Incentive,
    ShopSettings,
)
from shop_app.messaging import whatsapp_templates
from shop_app.messaging.defaults import default_template
from shop_app.messaging.merchant_templates import custom_template
from shop_app.messaging.samples import sample_fields
from shop_app.messaging.sandbox import TemplateRefused, preview
from shop_app.reporting.measurement import Measurement, measure, parse_range, today_in
from shop_app.reporting.present import lines, step_lines
from shop_app.reporting.referral import referral_results
from shop_app.shopify.shops import load_settings
from shop_app.storage.database import transaction
from shop_app.storage.tables import Shop

RESULT_DAYS = 15
#: The channels each step may use, in the order the page shows them.
STEP_CHANNELS = {
    Step.FIRST: (Channel.EMAIL, Channel.PUSH),
    Step.WHATSAPP: (Channel.WHATSAPP,),
    Step.PRIME: (Channel.SMS, Channel.WHATSAPP),
}
STEP_NAMES = {
    Step.FIRST: "First stimulus",
    Step.WHATSAPP: "WhatsApp orchestration",
    Step.PRIME: "Revenue Recovery Prime",
}
INCENTIVE_NAMES = {
    "none": "No incentive",
    "percentage": "Percentage off",
    "fixed_amount": "Fixed amount off",
    "free_shipping": "Free shipping",
}
CODE_MODE_NAMES = {"shared": "A code I created in Shopify", "unique": "A unique code per customer, created by Reclaim"}
PRIME_DELAY_NAMES = {16: "16 h (short-cycle purchases)", 40: "40 h (high-value goods)"}
PREVIEW_LANGUAGE = "en"


def _now() -> datetime:
    return datetime.now(UTC)


# --- facts --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepTotals:
    """One step's figures over its channels (measurement.by_step added up)."""

    sent: int = 0
    delivered: int = 0
    clicked: int = 0
    recovered_orders: int = 0


def step_totals(report: Measurement) -> dict[str, StepTotals]:
    """Each step's messages sent, delivered and clicked, and orders credited, over its channels."""
    totals: dict[str, StepTotals] = {}
    for s in report.by_step:
        t = totals.get(s.step, StepTotals())
        totals[s.step] = StepTotals(
            t.sent + s.sent, t.delivered + s.delivered, t.clicked + s.clicked, t.recovered_orders + s.recovered_orders
        )
    return totals


# --- what the pages show -----------------------------------------------------------------------


def duration(minutes: int) -> str:
    """A delay as the merchant reads it: 45 min, 2 h, 1 h 30 min."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" + (f" {rest} min" if rest else "")


def amount_text(value: Decimal | None) -> str:
    """An incentive's value as the merchant typed it: 10, 12.5 (not 1E+1)."""
    return "" if value is None else f"{value.normalize():f}"


def describe_incentive(incentive: Incentive, currency: str) -> str:
    if not incentive.offered:
        return "No incentive"
    if incentive.code_mode == "unique":
        return f"{incentive.describe(currency)}, unique code valid {incentive.expiry_hours} h"
    return f"{incentive.describe(currency)}, code {incentive.code}"


@dataclass(frozen=True)
class StepRow:
    """One step of a flow as /flows lists it."""

    step: Step
    name: str
    enabled: bool
    channels: tuple[tuple[str, bool], ...]  # (channel name, connected)
    timing: str
    incentive: str
    results: StepTotals

    @property
    def status(self) -> tuple[str, str]:
        """(label, badge tone)."""
        if not self.enabled:
            return "Off", "neutral"
        if not all(connected for _, connected in self.channels):
            return "Needs connection", "warning"
        return "On", "success"


def step_rows(
    settings: ShopSettings, connected: dict[Channel, bool], results: dict[str, StepTotals], currency: str
) -> list[StepRow]:
    windowed = settings.windowed_channels
    whatsapp_timing = duration(settings.whatsapp.delay_minutes) + " after abandonment"
    if Channel.WHATSAPP in windowed:
        whatsapp_timing += ", inside delivery windows"
    steps = (
        (Step.FIRST, settings.first.enabled, settings.first.channels,
         duration(settings.first.delay_minutes) + " after abandonment", settings.first.incentive),
        (Step.WHATSAPP, settings.whatsapp.enabled, (Channel.WHATSAPP,), whatsapp_timing, settings.first.incentive),
        (Step.PRIME, settings.prime.enabled, settings.prime.channels,
         f"{settings.prime.delay_hours} h after abandonment", settings.prime.incentive),
    )  # fmt: skip
    return [
        StepRow(
            step,
            STEP_NAMES[step],
            enabled,
            tuple((channel_label(c), connected.get(c, False)) for c in channels),
            timing,
            describe_incentive(incentive, currency),
            results.get(step.value, StepTotals()),
        )
        for step, enabled, channels, timing, incentive in steps
    ]


def channel_label(channel: Channel) -> str:
    """Email, Browser push, SMS, WhatsApp."""
    name = CHANNEL_NAMES[channel]
    return name[:1].upper() + name[1:]


@dataclass(frozen=True)
class ContentPreview:
    """One step's message on one channel, rendered with sample data."""

    channel: Channel
    source: str  # "your template", "default text", "WhatsApp template"
    subject: str | None = None  # email subject, push title
    body: str = ""
    note: str | None = None  # SMS length, or why the template does not render


def content_previews(session: Session, shop: Shop, settings: ShopSettings) -> dict[Step, list[ContentPreview]]:
    offers = {Step.FIRST: settings.first.incentive, Step.WHATSAPP: settings.first.incentive,
              Step.PRIME: settings.prime.incentive}  # fmt: skip
    previews: dict[Step, list[ContentPreview]] = {}
    for step, channels in STEP_CHANNELS.items():
        with_discount = offers[step].offered
        previews[step] = [
            _whatsapp_preview(step, shop, with_discount)
            if channel is Channel.WHATSAPP
            else _template_preview(session, shop, settings.tone, step, channel, with_discount)
            for channel in channels
        ]
    return previews


def _template_preview(
    session: Session, shop: Shop, tone: str, step: Step, channel: Channel, with_discount: bool
) -> ContentPreview:
    custom = custom_template(session, shop.id, step, channel, PREVIEW_LANGUAGE)
    template = custom or default_template(step, channel, PREVIEW_LANGUAGE, tone)
    source = "default text" if custom is None else "your template"
    try:
        shown = {
            part: preview(
                source,
                channel,
                PREVIEW_LANGUAGE,
                tone,
                with_discount=with_discount,
                shop_name=shop.name,
                shop_domain=shop.domain,
            )  # fmt: skip
            for part, source in (("subject", template.subject), ("body", template.body))
            if source is not None
        }
    except TemplateRefused as refused:
        return ContentPreview(channel, source, note=f"This template does not render: {refused.reason}")
    note = None
    sms = shown["body"].sms
    if sms is not None:
        plural = "s" if sms.segments != 1 else ""
        note = f"{sms.characters} characters, {sms.segments} segment{plural} ({sms.encoding.upper()})"
    subject = shown.get("subject")
    return ContentPreview(
        channel, source, " ".join(subject.text.split()) if subject else None, shown["body"].text.strip(), note
    )


def _whatsapp_preview(step: Step, shop: Shop, with_discount: bool) -> ContentPreview:
    """WhatsApp sends only the templates Meta approved (messaging/whatsapp_templates)."""
    fields = sample_fields(PREVIEW_LANGUAGE, with_discount=with_discount, channel=Channel.WHATSAPP,
                           shop_name=shop.name, shop_domain=shop.domain)  # fmt: skip
    offer = None
    if fields.discount_code:
        offer = whatsapp_templates.offer_line(
            PREVIEW_LANGUAGE, fields.discount_code, fields.discount_value, fields.discount_expiry
        )
    values = whatsapp_templates.variables(
        PREVIEW_LANGUAGE, first_name=fields.first_name, shop_name=fields.shop_name,
        cart_summary=fields.cart_summary, link=fields.recovery_link, offer=offer,
    )  # fmt: skip
    key = whatsapp_templates.key_for(step.value, has_offer=offer is not None)
    body = whatsapp_templates.render(key, PREVIEW_LANGUAGE, values)
    return ContentPreview(Channel.WHATSAPP, "WhatsApp template", body=body, note="Sent once Meta approved it")


def split_warnings(warnings: list[str]) -> list[tuple[str, str]]:
    """Each "field: message" of `ShopSettings.warnings` as (field, message)."""
    split = [w.partition(": ") for w in warnings]
    return [(field, message) if message else ("", field) for field, _, message in split]


# --- routes -------------------------------------------------------------------------------------


def _shop(session: Session) -> Shop:
    shop = session.get(Shop, current_shop().id)
    if shop is None:  # erased between authentication and now
        abort(401)
    return shop


@bp.get("/flows")
def flows() -> ResponseReturnValue:
    rt = app_runtime()
    now = _now()
    with transaction(rt.sessions) as session:
        shop = _shop(session)
        settings = load_settings(session, shop)
        connected = rt.transports.connection_facts(session, shop.id)
        # The referral card reads its figures against the days before (referral_results), not the report's.
        report = measure(session, shop, *parse_range(today_in(shop, now), days=RESULT_DAYS), now, referrals=False)
        referral_figures = referral_results(session, shop, RESULT_DAYS, now)
        referral = referral_card(settings.referral, referral_figures, latest_paid_orders(session, shop))
        currency = shop.currency
    return render_page(
        "flows/index.html",
        title="Engagement flows",
        referral=referral,
        steps=step_rows(settings, connected, step_totals(report), currency),
        channels=step_lines(report),
        results={line.key: line.current for line in lines(report)},
        currency=currency,
        days=RESULT_DAYS,
        warnings=split_warnings(settings.warnings(connected)),
    )


@bp.get("/flows/recovery")
def recovery() -> ResponseReturnValue:
    rt = app_runtime()
    with transaction(rt.sessions) as session:
        shop = _shop(session)
        settings = load_settings(session, shop)
        connected = rt.transports.connection_facts(session, shop.id)
        previews = content_previews(session, shop, settings)
        currency = shop.currency
    return render_page(
        "flows/recovery.html",
        title="Revenue Recovery",
        settings=settings,
        document=settings.to_document(),
        connected={c.value: ok for c, ok in connected.items()},
        warnings=split_warnings(settings.warnings(connected)),
        previews={step.value: shown for step, shown in previews.items()},
        channel_label=channel_label,
        currency=currency,
        amount=amount_text,
        choices={
            "incentive_types": [(t, INCENTIVE_NAMES[t]) for t in INCENTIVE_TYPES],
            "code_modes": [(m, CODE_MODE_NAMES[m]) for m in CODE_MODES],
            "whatsapp_delays": [(d, duration(d)) for d in WHATSAPP_DELAYS],
            "prime_delays": [(d, PRIME_DELAY_NAMES.get(d, f"{d} h")) for d in PRIME_DELAYS],
            "tones": [(t, t.capitalize()) for t in TONES],
        },
    )
