"""SendGrid's event webhook in our own words: one event object becomes an `EmailEvent`. Pure.

Deciding which Message an event belongs to, and whether to believe that, is the webhook's job.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shop_app.domain.addresses import scrub_provider_text
from shop_app.errors import ReclaimError

#: SendGrid event name → our vocabulary. Anything else becomes "unknown": kept, never acted on.
KINDS: dict[str, str] = {
    "processed": "queued",
    "deferred": "deferred",
    "delivered": "delivered",
    "bounce": "bounced",
    "dropped": "dropped",
    "open": "opened",
    "click": "clicked",
    "spamreport": "complained",
    "unsubscribe": "unsubscribed",
    "group_unsubscribe": "unsubscribed",
}

#: Bounce `type`s that blame the sender or the route, not the address: no suppression.
NOT_THE_ADDRESS = frozenset({"blocked", "expired"})

#: Drop reasons (SendGrid's words, lower-cased) that say the address itself must not get mail,
#: with our readable reason and whether the person's own act is behind it.
ADDRESS_DROPS: dict[str, tuple[str, bool]] = {
    "bounced address": ("the address bounced before", False),
    "invalid": ("the address is invalid", False),
    "unsubscribed address": ("the address unsubscribed before", True),
    "spam reporting address": ("the address reported spam before", True),
}

DETAIL_LIMIT = 500
_DIGITS = re.compile(r"^[0-9]{1,18}$")


class InvalidEvent(ReclaimError, ValueError):
    """An array element that is not a SendGrid event at all."""


class InvalidBatch(ReclaimError, ValueError):
    """The body is not a JSON array."""


@dataclass(frozen=True)
class EmailEvent:
    kind: str  # queued, deferred, delivered, bounced, dropped, opened, clicked, complained, unsubscribed, unknown
    key: str  # sg_event_id, or a digest of the event when SendGrid gave none: the duplicate check
    email: str | None
    occurred_at: datetime | None
    message_ref: int | None  # custom arg reclaim_message_id: a claim to check, not a fact
    shop_ref: str | None  # custom arg reclaim_shop
    detail: str
    suppress: str | None = None  # the reason to suppress the address; None: it may still get mail
    revokes_consent: bool = False


def decode_batch(body: bytes) -> list[Any]:
    """The array of events; raises InvalidBatch for anything else."""
    try:
        batch = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise InvalidBatch(f"the body is not JSON: {exc}"[:200]) from exc
    if not isinstance(batch, list):
        raise InvalidBatch("the body must be a JSON array of events")
    return batch


def parse_sendgrid_event(raw: Any) -> EmailEvent:
    """One element of SendGrid's array: a flat object with `email, timestamp, event, sg_event_id,
    sg_message_id`, event-specific fields (`reason`, `status`, `type`, `response`, `url`, …) and our
    custom args (`reclaim_message_id`, `reclaim_shop`, set by adapters/email.py) at the top level.

    The kind comes from our closed vocabulary (the statuses of domain.delivery plus `complained`,
    `unsubscribed` and `unknown`, after anymail's EventType); see `_describe` for suppression.
    """
    if not isinstance(raw, dict):
        raise InvalidEvent("an event must be a JSON object")
    name = raw.get("event")
    if not isinstance(name, str) or not name:
        raise InvalidEvent("the event has no `event` name")
    email = raw.get("email")
    email = email if isinstance(email, str) and email else None
    kind = KINDS.get(name, "unknown")
    detail, suppress, revokes = _describe(name, kind, raw)
    return EmailEvent(
        kind=kind,
        key=_key(raw),
        email=email,
        occurred_at=_when(raw.get("timestamp")),
        message_ref=_message_ref(raw.get("reclaim_message_id")),
        shop_ref=raw["reclaim_shop"].strip().lower() if isinstance(raw.get("reclaim_shop"), str) else None,
        # SMTP answers often quote the address; details and reasons outlive it (suppressions survive erasure).
        detail=scrub_provider_text(detail, email),
        suppress=scrub_provider_text(suppress, email) if suppress else None,
        revokes_consent=revokes,
    )


def _describe(name: str, kind: str, raw: dict[str, Any]) -> tuple[str, str | None, bool]:
    """(detail, suppression reason or None, revokes consent).

    Suppression follows what the event says about the *address*: a hard bounce, a spam report, an
    unsubscribe, or a drop because SendGrid already lists the address suppress; a `blocked` bounce
    (the receiving server refused us, not the address) and a drop for our own reasons do not.
    Consent is revoked only for what the person did (spam report, unsubscribe, or a drop that
    records one): a bounce says nothing about their wishes.
    """
    reason = _text(raw.get("reason"))
    response = _text(raw.get("response"))
    status = _text(raw.get("status"))
    if kind == "queued":
        return "accepted by SendGrid", None, False
    if kind == "delivered":
        return _join("delivered", response), None, False
    if kind == "deferred":
        attempt = _text(raw.get("attempt"))
        return _join(f"deferred (attempt {attempt})" if attempt else "deferred", response or reason), None, False
    if kind == "bounced":
        bounce_type = _text(raw.get("type")).lower()
        said = " ".join(part for part in (status, reason) if part)
        if bounce_type in NOT_THE_ADDRESS:
            return _join(f"bounced ({bounce_type}; not held against the address)", said), None, False
        return _join("bounced", said), _join("email bounced", said), False
    if kind == "dropped":
        why = reason or _text(raw.get("type"))
        known = ADDRESS_DROPS.get(why.lower())
        detail = _join("dropped by SendGrid", why)
        if known is None:
            return detail, None, False
        words, by_person = known
        return detail, f"SendGrid dropped the email: {words}", by_person
    if kind == "opened":
        machine = raw.get("sg_machine_open") is True  # Apple Mail Privacy Protection fetches every image
        return (
            ("opened (machine open: the mail app fetched it, maybe not a person)" if machine else "opened"),
            None,
            False,
        )
    if kind == "clicked":
        return _join("clicked", _text(raw.get("url"))), None, False
    if kind == "complained":
        return "marked as spam by the recipient", "marked an email as spam", True
    if kind == "unsubscribed":
        return f"unsubscribed through SendGrid ({name})", "unsubscribed through SendGrid", True
    return f"unknown SendGrid event {name[:64]!r}: kept, not acted on", None, False


def _text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, (str, int, float)):
        return " ".join(str(value).split())
    return ""


def _join(head: str, tail: str) -> str:
    return f"{head}: {tail}"[:DETAIL_LIMIT] if tail else head


def _key(raw: dict[str, Any]) -> str:
    event_id = raw.get("sg_event_id")
    if isinstance(event_id, str) and 0 < len(event_id) <= 128:
        return event_id
    # Old drops came without sg_event_id; a retried batch repeats the event byte for byte.
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _when(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _message_ref(value: Any) -> int | None:
    """Custom args arrive as strings; anything but a plain positive id is no reference."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < 2**63 else None
    if isinstance(value, str) and _DIGITS.match(value.strip()):
        number = int(value.strip())
        return number if 0 < number < 2**63 else None
    return None
