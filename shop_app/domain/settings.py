"""A shop's Revenue Recovery and Referral settings (and the tone of its messages): the JSON document merchants
and operators edit.

`ShopSettings.from_document` is the only way in: it checks every field, collects all
problems as FieldErrors, and fills the product defaults (README) for keys left out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from shop_app.domain.measurement_settings import MeasurementSettings, read_measurement
from shop_app.domain.models import Channel
from shop_app.domain.referral_settings import ReferralSettings, read_referral
from shop_app.domain.validation import FieldError, ValidationError
from shop_app.domain.windows import DEFAULT_DAYS, WEEKDAYS, WeeklyWindows, format_minute

INCENTIVE_TYPES = ("none", "percentage", "fixed_amount", "free_shipping")
CODE_MODES = ("shared", "unique")
EMAIL_CONSENT = ("unless_unsubscribed", "subscribers_only")
WHATSAPP_CONSENT = ("phone_marketing", "explicit_optin")
#: The voice of the default message texts (shop_app/messaging/defaults.py); the first is the default.
TONES = ("informal", "formal")
FIRST_CHANNELS = (Channel.EMAIL, Channel.PUSH)
PRIME_CHANNELS = (Channel.SMS, Channel.WHATSAPP)
WINDOWED_CHANNELS = (Channel.EMAIL, Channel.PUSH, Channel.SMS, Channel.WHATSAPP)
WHATSAPP_DELAYS = (120, 360)
PRIME_DELAYS = (16, 40)
MAX_FIRST_DELAY_MINUTES = 7 * 24 * 60
MAX_AMOUNT = 1_000_000
DEFAULT_EXPIRY_HOURS = 72
#: A customer who received a recovery code within this many days gets no new one (issue 12, offer discipline).
DEFAULT_DISCOUNT_MEMORY_DAYS = 30
MAX_DISCOUNT_MEMORY_DAYS = 365
MAX_EXPIRY_HOURS = 90 * 24
DEFAULT_DAYS_DOCUMENT = {
    day: [[format_minute(start), format_minute(end)] for start, end in windows]
    for day, windows in zip(WEEKDAYS, DEFAULT_DAYS, strict=True)
}
_CODE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_T = TypeVar("_T")


@dataclass(frozen=True)
class Incentive:
    type: str = "none"
    value: Decimal | None = None
    code_mode: str = "shared"  # shared: the merchant's own code; unique: one created per message
    code: str | None = None
    expiry_hours: int = DEFAULT_EXPIRY_HOURS  # unique codes only
    combines_with_shipping: bool = False  # unique codes only

    @property
    def offered(self) -> bool:
        return self.type != "none"

    @property
    def amount(self) -> Decimal:
        """The value of a percentage or fixed-amount incentive (those always have one)."""
        if self.value is None:
            raise ValueError(f"a {self.type} incentive without a value")
        return self.value

    def describe(self, currency: str, language: str = "en") -> str:
        """The offer as the customer reads it: "10% off", "5.00 EUR off", "envío gratis"."""
        spanish = language == "es"
        if self.type == "percentage":
            amount = f"{self.amount.normalize():f}"
            return f"{amount} % de descuento" if spanish else f"{amount}% off"
        if self.type == "fixed_amount":
            amount = " ".join(part for part in (f"{self.value:.2f}", currency) if part)
            return f"{amount} de descuento" if spanish else f"{amount} off"
        if self.type == "free_shipping":
            return "envío gratis" if spanish else "free shipping"
        return ""

    def to_document(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "value": None if self.value is None else float(self.value),
            "code_mode": self.code_mode,
            "code": self.code,
            "expiry_hours": self.expiry_hours,
            "combines_with_shipping": self.combines_with_shipping,
        }


@dataclass(frozen=True)
class FirstStimulus:
    enabled: bool = True
    delay_minutes: int = 60
    channels: tuple[Channel, ...] = FIRST_CHANNELS
    incentive: Incentive = Incentive()


@dataclass(frozen=True)
class WhatsAppStep:
    enabled: bool = True
    delay_minutes: int = 120


@dataclass(frozen=True)
class PrimeStep:
    enabled: bool = True
    delay_hours: int = 16
    channels: tuple[Channel, ...] = PRIME_CHANNELS
    incentive: Incentive = Incentive()


@dataclass(frozen=True)
class ShopSettings:
    first: FirstStimulus
    whatsapp: WhatsAppStep
    prime: PrimeStep
    windows: WeeklyWindows
    windowed_channels: tuple[Channel, ...]
    email_consent: str
    whatsapp_consent: str
    tone: str = TONES[0]
    referral: ReferralSettings = ReferralSettings()
    measurement: MeasurementSettings = MeasurementSettings()
    #: Days after a recovery code was sent to a person during which their other journeys offer none (0: off).
    discount_memory_days: int = DEFAULT_DISCOUNT_MEMORY_DAYS

    @classmethod
    def defaults(cls, timezone: str) -> ShopSettings:
        return cls.from_document({}, shop_timezone=timezone)

    @classmethod
    def from_document(cls, doc: Any, *, shop_timezone: str) -> ShopSettings:
        errors: list[FieldError] = []
        reader = _Reader(errors)
        doc = reader.obj(doc, "settings")
        recovery = reader.obj(doc.get("recovery", {}), "recovery")
        reader.no_extra(doc, "settings", {"recovery", "delivery_windows", "consent", "tone", "referral", "measurement"})
        reader.no_extra(recovery, "recovery", {"first", "whatsapp", "prime", "discount_memory_days"})

        f = reader.obj(recovery.get("first", {}), "recovery.first")
        reader.no_extra(f, "recovery.first", {"enabled", "delay_minutes", "channels", "incentive"})
        first = FirstStimulus(
            enabled=reader.boolean(f, "enabled", "recovery.first", True),
            delay_minutes=reader.integer(f, "delay_minutes", "recovery.first", 60, 5, MAX_FIRST_DELAY_MINUTES),
            channels=reader.channels(f, "channels", "recovery.first", FIRST_CHANNELS, FIRST_CHANNELS),
            incentive=reader.incentive(f.get("incentive"), "recovery.first.incentive"),
        )

        w = reader.obj(recovery.get("whatsapp", {}), "recovery.whatsapp")
        reader.no_extra(w, "recovery.whatsapp", {"enabled", "delay_minutes"})
        whatsapp = WhatsAppStep(
            enabled=reader.boolean(w, "enabled", "recovery.whatsapp", True),
            delay_minutes=reader.choice(w, "delay_minutes", "recovery.whatsapp", 120, WHATSAPP_DELAYS),
        )

        p = reader.obj(recovery.get("prime", {}), "recovery.prime")
        reader.no_extra(p, "recovery.prime", {"enabled", "delay_hours", "channels", "incentive"})
        prime = PrimeStep(
            enabled=reader.boolean(p, "enabled", "recovery.prime", True),
            delay_hours=reader.choice(p, "delay_hours", "recovery.prime", 16, PRIME_DELAYS),
            channels=reader.channels(p, "channels", "recovery.prime", PRIME_CHANNELS, PRIME_CHANNELS),
            incentive=reader.incentive(p.get("incentive"), "recovery.prime.incentive"),
        )

        memory_days = reader.integer(
            recovery, "discount_memory_days", "recovery", DEFAULT_DISCOUNT_MEMORY_DAYS, 0, MAX_DISCOUNT_MEMORY_DAYS
        )

        dw = reader.obj(doc.get("delivery_windows", {}), "delivery_windows")
        reader.no_extra(dw, "delivery_windows", {"timezone", "channels", "days"})
        timezone = dw.get("timezone", shop_timezone)
        windowed = reader.channels(
            dw, "channels", "delivery_windows", (Channel.WHATSAPP, Channel.SMS), WINDOWED_CHANNELS, allow_empty=True
        )
        days = dw.get("days", DEFAULT_DAYS_DOCUMENT)
        windows = None
        try:
            windows = WeeklyWindows.from_document(days, timezone=timezone if isinstance(timezone, str) else "")
        except ValidationError as exc:
            errors.extend(exc.errors)

        email_consent, whatsapp_consent = reader.consent(doc.get("consent", {}))
        tone = reader.tone(doc.get("tone", TONES[0]))
        referral = read_referral(reader, doc.get("referral"))
        measurement = read_measurement(reader, doc.get("measurement"))

        if errors or windows is None:  # windows is None only when parsing them recorded errors
            raise ValidationError(errors)
        return cls(first, whatsapp, prime, windows, windowed, email_consent, whatsapp_consent, tone, referral,
                   measurement=measurement, discount_memory_days=memory_days)  # fmt: skip

    def to_document(self) -> dict[str, Any]:
        return {
            "recovery": {
                "first": {
                    "enabled": self.first.enabled,
                    "delay_minutes": self.first.delay_minutes,
                    "channels": [c.value for c in self.first.channels],
                    "incentive": self.first.incentive.to_document(),
                },
                "whatsapp": {"enabled": self.whatsapp.enabled, "delay_minutes": self.whatsapp.delay_minutes},
                "prime": {
                    "enabled": self.prime.enabled,
                    "delay_hours": self.prime.delay_hours,
                    "channels": [c.value for c in self.prime.channels],
                    "incentive": self.prime.incentive.to_document(),
                },
                "discount_memory_days": self.discount_memory_days,
            },
            "delivery_windows": {
                "timezone": self.windows.timezone,
                "channels": [c.value for c in self.windowed_channels],
                "days": self.windows.to_document(),
            },
            "consent": {"email": self.email_consent, "whatsapp": self.whatsapp_consent},
            "tone": self.tone,
            "referral": self.referral.to_document(),
            "measurement": self.measurement.to_document(),
        }

    def warnings(self, connected: Mapping[Channel, bool] | None = None) -> list[str]:
        """Advice that does not block saving, each "<field>: <message>": Prime should offer more
        than the first stimulus, and come while the earlier code still works; with `connected`
        (whether the shop can send on each channel now), SMS and WhatsApp steps that are on but
        not connected. Without it, connection is not judged."""
        return [*self._weak_prime(), *self._code_lapses(), *self._not_connected(connected or {})]

    def release_time(self, channel: Channel, due: datetime) -> datetime:
        """When a message on `channel` falling due at `due` goes out (UTC): then, or at the next
        window opening when the channel waits for delivery windows."""
        return self.windows.next_open(due) if channel in self.windowed_channels else due.astimezone(UTC)

    def whatsapp_time(self, abandoned_at: datetime) -> datetime | None:
        """When the WhatsApp orchestration message of a cart abandoned at `abandoned_at` goes
        out (UTC), or None while that step is off."""
        if not self.whatsapp.enabled:
            return None
        return self.release_time(Channel.WHATSAPP, abandoned_at + timedelta(minutes=self.whatsapp.delay_minutes))

    def _weak_prime(self) -> list[str]:
        first, prime = self.first.incentive, self.prime.incentive
        if not (self.prime.enabled and first.offered):
            return []
        weak = "recovery.prime.incentive: the second stimulus should be stronger than the first"
        if not prime.offered:
            return [weak + " (it offers nothing, the first offers " + first.describe("") + ")"]
        if prime.type == first.type == "free_shipping":
            return [weak + " (both offer free shipping)"]
        if prime.type == first.type and prime.amount <= first.amount:
            return [weak + f" ({prime.amount.normalize():f} is not more than {first.amount.normalize():f})"]
        return []

    def _code_lapses(self) -> list[str]:
        """A unique first code that stops working before Prime arrives (a 40 h Prime with a short
        expiry): between the two the customer holds an offer that no longer works."""
        code = self.first.incentive
        if not (self.prime.enabled and code.offered and code.code_mode == "unique"):
            return []
        # The WhatsApp orchestration repeats the first offer with a code of its own.
        sent = [step.delay_minutes for step in (self.first, self.whatsapp) if step.enabled]
        if not sent:
            return []
        lapses, prime = max(sent) + code.expiry_hours * 60, self.prime.delay_hours * 60
        if lapses >= prime:
            return []
        needed = -(-(prime - max(sent)) // 60)  # whole hours, rounded up
        return [
            f"recovery.first.incentive.expiry_hours: the first code stops working {_duration(lapses)} after "
            f"abandonment, before Prime goes out at {self.prime.delay_hours} h; make it valid for at least "
            f"{needed} h so the offer still works when Prime reminds the customer"
        ]

    def _not_connected(self, connected: Mapping[Channel, bool]) -> list[str]:
        fix = "nothing goes out on it until you connect Twilio under Channels"
        found = []
        if self.whatsapp.enabled and connected.get(Channel.WHATSAPP) is False:
            found.append(
                f"recovery.whatsapp.enabled: WhatsApp orchestration is on but WhatsApp is not connected; {fix}"
            )
        if self.prime.enabled:
            found += [
                f"recovery.prime.channels: Prime sends by {CHANNEL_NAMES[c]} but {CHANNEL_NAMES[c]} is not "
                f"connected; {fix}"
                for c in self.prime.channels
                if connected.get(c) is False
            ]
        return found


#: How a message names a channel.
CHANNEL_NAMES = {
    Channel.EMAIL: "email",
    Channel.PUSH: "browser push",
    Channel.SMS: "SMS",
    Channel.WHATSAPP: "WhatsApp",
}


def _duration(minutes: int) -> str:
    """Minutes as a person reads a delay: 25 h, 24 h 45 min."""
    hours, rest = divmod(minutes, 60)
    return f"{hours} h" + (f" {rest} min" if rest else "")


class _Reader:
    """Reads typed fields out of loose JSON, recording a FieldError instead of raising."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors

    def fail(self, field: str, message: str) -> None:
        self.errors.append(FieldError(field, message))

    def obj(self, value: Any, field: str) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        self.fail(field, "must be an object")
        return {}

    def no_extra(self, value: dict[str, Any], field: str, allowed: set[str]) -> None:
        for key in sorted(set(value) - allowed, key=str):
            self.fail(f"{field}.{key}", "unknown setting")

    def boolean(self, doc: dict[str, Any], key: str, where: str, default: bool) -> bool:
        value = doc.get(key, default)
        if not isinstance(value, bool):
            self.fail(f"{where}.{key}", "must be true or false")
            return default
        return value

    def consent(self, value: Any) -> tuple[str, str]:
        """The `consent` section: (email, whatsapp)."""
        c = self.obj(value, "consent")
        self.no_extra(c, "consent", {"email", "whatsapp"})
        email = self.choice(c, "email", "consent", "unless_unsubscribed", EMAIL_CONSENT)
        return email, self.choice(c, "whatsapp", "consent", "phone_marketing", WHATSAPP_CONSENT)

    def tone(self, value: Any) -> str:
        if not isinstance(value, str) or value not in TONES:
            self.fail("tone", "must be one of " + ", ".join(TONES))
            return TONES[0]
        return value

    def integer(self, doc: dict[str, Any], key: str, where: str, default: int, low: int, high: int) -> int:
        value = doc.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(f"{where}.{key}", f"must be a whole number from {low} to {high}")
            return default
        return value

    def choice(self, doc: dict[str, Any], key: str, where: str, default: _T, allowed: tuple[_T, ...]) -> _T:
        value = doc.get(key, default)
        if isinstance(value, bool) or type(value) is not type(allowed[0]) or value not in allowed:
            self.fail(f"{where}.{key}", "must be one of " + ", ".join(str(a) for a in allowed))
            return default
        return value  # one of `allowed`, of the same type

    def channels(
        self,
        doc: dict[str, Any],
        key: str,
        where: str,
        default: tuple[Channel, ...],
        allowed: tuple[Channel, ...],
        allow_empty: bool = False,
    ) -> tuple[Channel, ...]:
        value = doc.get(key, [c.value for c in default])
        names = [c.value for c in allowed]
        if not isinstance(value, list) or any(v not in names for v in value) or len(set(value)) != len(value):
            self.fail(f"{where}.{key}", "must be a list of distinct channels from " + ", ".join(names))
            return default
        if not value and not allow_empty:
            self.fail(f"{where}.{key}", "needs at least one channel (turn the step off instead)")
            return default
        return tuple(Channel(v) for v in value)

    def incentive(self, value: Any, where: str) -> Incentive:
        if value is None:
            return Incentive()
        doc = self.obj(value, where)
        self.no_extra(doc, where, {"type", "value", "code_mode", "code", "expiry_hours", "combines_with_shipping"})
        kind = self.choice(doc, "type", where, "none", INCENTIVE_TYPES)
        mode = self.choice(doc, "code_mode", where, "shared", CODE_MODES)
        if kind == "none":
            return Incentive()
        amount = None
        if kind in ("percentage", "fixed_amount"):
            amount = self._amount(doc.get("value"), f"{where}.value", kind)
        expiry = self.integer(doc, "expiry_hours", where, DEFAULT_EXPIRY_HOURS, 1, MAX_EXPIRY_HOURS)
        combines = self.boolean(doc, "combines_with_shipping", where, False)
        code = doc.get("code")
        if mode == "unique":
            code = None  # the app creates one per message through the Admin API
        elif not isinstance(code, str) or not _CODE.match(code):
            self.fail(
                f"{where}.code",
                "type the discount code you created in Shopify (letters, digits, - and _, up to 64)",
            )
            code = None
        return Incentive(kind, amount, mode, code, expiry, combines)

    def _amount(self, raw: Any, field: str, kind: str) -> Decimal | None:
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            self.fail(field, "must be a number")
            return None
        try:
            amount = Decimal(str(raw))
        except InvalidOperation:
            self.fail(field, "must be a number")
            return None
        if not amount.is_finite() or amount <= 0 or (kind == "percentage" and amount > 100):
            limit = "between 0 and 100" if kind == "percentage" else "more than 0"
            self.fail(field, f"must be {limit}")
            return None
        exponent = amount.as_tuple().exponent  # an int: the amount is finite
        if not isinstance(exponent, int) or exponent < -2 or amount > MAX_AMOUNT:
            self.fail(field, f"must have at most 2 decimal places and be at most {MAX_AMOUNT}")
            return None
        return amount
