"""Browser push (RFC 8030/8291/8292) behind the channel interface, through pywebpush.

`PushTransport` lists what pywebpush does not do for us, and this module does.
"""

from __future__ import annotations

import base64
import hashlib
import json

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from shop_app.adapters.http_errors import never_reached, retry_after_seconds
from shop_app.adapters.outgoing import OutgoingMessage, Rejection, SendResult, SendStatus

#: How long a push service may hold a reminder for a browser that is offline.
#: 12 hours reaches a laptop that is opened the next morning, and is shorter than the
#: earliest second reminder (16 h, domain/settings.py PRIME_DELAYS): a first reminder
#: that could not be delivered by then is stale, and the next one takes its place.
DEFAULT_TTL_SECONDS = 12 * 60 * 60
URGENCIES = ("very-low", "low", "normal", "high")
#: One aes128gcm record of at most 4096 octets: 86 octets of header (salt, record size,
#: key id length, the 65-octet key id), a 16-octet tag and one padding delimiter octet
#: leave 3993 octets of plaintext (RFC 8291 §4).
MAX_PLAINTEXT_BYTES = 3993
#: RFC 8030 §5.4: a Topic is at most 32 characters of the URL- and filename-safe base64 alphabet.
TOPIC_LENGTH = 32
CONNECT_TIMEOUT_SECONDS = 10.0
SEND_TIMEOUT_SECONDS = 30.0
DETAIL_LIMIT = 500
#: Message.provider_id is a String(128); a longer Location is kept as its hash (`sha256:`), here.
PROVIDER_ID_LIMIT = 128
ELLIPSIS = "…"

_SENT = (200, 201, 202)
#: Endpoints requests cannot even try (these are also ValueErrors, so they come first).
_BAD_URL = (requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema, requests.exceptions.InvalidURL)
_GONE = (404, 410)
#: Answers that sending the same request again cannot fix.
_PERMANENT = {
    400: "the push service refused the request (bad headers or body)",
    401: "the push service refused our VAPID authorization",
    403: "the push service refused our VAPID key for this subscription",
    413: "the payload is too large for the push service",
}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def generate_vapid_keys() -> tuple[str, str]:
    """A new VAPID key pair: (private key, application server key).

    The private key is the 32-octet P-256 scalar in unpadded base64url (what py_vapid's
    `Vapid.from_string` reads); the public one is the 65-octet uncompressed point in
    unpadded base64url, which the storefront script passes to `pushManager.subscribe`.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    private = _b64url(key.private_numbers().private_value.to_bytes(32, "big"))
    public = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return private, _b64url(public)


def topic_header(topic: str) -> str:
    """The RFC 8030 Topic for any string: 32 base64url characters of its SHA-256.

    Equal topics (one checkout) give equal headers, so the push service replaces an
    undelivered older reminder with the newer one; any input fits the 32-character rule.
    """
    return _b64url(hashlib.sha256(topic.encode()).digest())[:TOPIC_LENGTH]


def _encode(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _shorten(payload: dict, field: str) -> bytes:
    """Cut `field` (with an ellipsis) until the JSON fits; each cut removes at least the excess."""
    data = _encode(payload)
    while len(data) > MAX_PLAINTEXT_BYTES and payload[field]:
        text = payload[field]
        keep = len(text) - (len(data) - MAX_PLAINTEXT_BYTES) - len(ELLIPSIS.encode())
        payload[field] = text[:keep].rstrip() + ELLIPSIS if keep > 0 else ""
        data = _encode(payload)
    return data


def build_payload(message: OutgoingMessage, tag: str) -> bytes:
    """The JSON the service worker reads: {title, body, url, tag}, trimmed to one record.

    The body gives way first, then the title; the link is never cut (a cut link is
    worse than none). Raises ValueError if the link alone does not fit.
    """
    payload = {
        "title": message.subject or message.sender_name or message.shop,
        "body": message.body or "",
        "url": message.link,
        "tag": tag,
    }
    data = _shorten(payload, "body")
    if len(data) > MAX_PLAINTEXT_BYTES:
        data = _shorten(payload, "title")
    if len(data) > MAX_PLAINTEXT_BYTES:
        raise ValueError(f"the push payload cannot fit {MAX_PLAINTEXT_BYTES} octets: the link is too long")
    return data


def _provider_id(location: str | None) -> str | None:
    if not location:
        return None
    if len(location) <= PROVIDER_ID_LIMIT:
        return location
    return "sha256:" + hashlib.sha256(location.encode()).hexdigest()


def _raw(response: requests.Response) -> dict:
    return {
        "status": response.status_code,
        "headers": dict(response.headers),
        "body": (response.text or "")[:DETAIL_LIMIT],
    }


def result_for(response: requests.Response) -> SendResult:
    """One push-service answer as a SendResult (channels.md §4.1)."""
    status, raw = response.status_code, _raw(response)
    # The body stays in `raw` only: it is whatever a host answered, not text for the merchant's activity page.
    detail = f"push service answered {status}"
    if status in _SENT:
        return SendResult(SendStatus.SENT, provider_id=_provider_id(response.headers.get("Location")), raw=raw)
    if status in _GONE:
        return SendResult(
            SendStatus.FAILED_PERMANENT,
            detail=f"subscription expired or unsubscribed ({detail})",
            rejection=Rejection.SUBSCRIPTION_GONE,
            raw=raw,
        )
    if status == 429:
        return SendResult(
            SendStatus.FAILED_TRANSIENT,
            detail=f"throttled ({detail})",
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            raw=raw,
        )
    if status in _PERMANENT:
        return SendResult(SendStatus.FAILED_PERMANENT, detail=f"{_PERMANENT[status]} ({detail})", raw=raw)
    if status >= 500 or status in (408, 425):
        return SendResult(
            SendStatus.FAILED_TRANSIENT,
            detail=detail,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            raw=raw,
        )
    return SendResult(SendStatus.FAILED_PERMANENT, detail=f"unexpected answer ({detail})", raw=raw)


class NoRedirectSession(requests.Session):
    """Push services answer a push directly. Following a redirect would POST to a host nobody
    checked (an internal address, say), so a 3xx is taken as the answer: a permanent failure."""

    def post(self, url, data=None, json=None, **kwargs):
        kwargs["allow_redirects"] = False
        return super().post(url, data=data, json=json, **kwargs)


class PushTransport:
    """Sends one OutgoingMessage to the browser subscription it carries.

    `private_key` is the VAPID private key from `generate_vapid_keys` (shop_app.channels.push_subscriptions keeps
    it); `contact` is the VAPID `sub` (mailto: or https:), where push services can reach us.

    What pywebpush does not do for us, and this does:

    - It sends `TTL: 0` unless told otherwise, so a browser that is offline for a moment never
      gets the reminder. We always send a real TTL.
    - It fills `aud` and `exp` into the claims dict it is given, in place. One dict reused for two
      push services keeps the first one's `aud`, and the second answers 401/403. Every send builds
      a fresh dict.
    - `Urgency` and `Topic` are plain headers. The Topic must be ≤ 32 characters of the URL-safe
      base64 alphabet, so we hash the message's topic into that shape.
    - Any answer above 202 raises; we turn every answer (and every network error) into one
      SendResult and never raise for a delivery problem. Retrying is the send job's business.
    """

    esp_name = "webpush"

    def __init__(
        self,
        private_key: str,
        contact: str,
        *,
        ttl: int = DEFAULT_TTL_SECONDS,
        urgency: str = "normal",
        session: requests.Session | None = None,
    ):
        if ttl <= 0:
            raise ValueError("ttl must be positive: with TTL 0 an offline browser never gets the message")
        if urgency not in URGENCIES:
            raise ValueError(f"urgency must be one of {', '.join(URGENCIES)}")
        if not contact.startswith(("mailto:", "https:")):
            raise ValueError("contact must be a mailto: or https: URL")
        self._vapid = Vapid.from_string(private_key)
        self.contact, self.ttl, self.urgency = contact, ttl, urgency
        self._session = session or NoRedirectSession()

    def headers_for(self, message: OutgoingMessage) -> dict[str, str]:
        headers = {"Urgency": self.urgency}
        if message.topic:
            headers["Topic"] = topic_header(message.topic)
        return headers

    def send(self, message: OutgoingMessage) -> SendResult:
        subscription = message.push_subscription
        if not subscription or not subscription.get("endpoint"):
            return SendResult(
                SendStatus.FAILED_PERMANENT,
                detail="the message carries no push subscription",
                rejection=Rejection.INVALID_ADDRESS,
            )
        tag = topic_header(message.topic) if message.topic else f"reclaim-{message.message_id}"
        try:
            data = build_payload(message, tag)
        except ValueError as exc:
            return SendResult(SendStatus.FAILED_PERMANENT, detail=str(exc))
        try:
            response = webpush(
                subscription,
                data=data,
                vapid_private_key=self._vapid,
                vapid_claims={"sub": self.contact},  # fresh each call: pywebpush writes aud/exp into it
                ttl=self.ttl,
                headers=self.headers_for(message),
                timeout=(CONNECT_TIMEOUT_SECONDS, SEND_TIMEOUT_SECONDS),
                requests_session=self._session,
            )
        except WebPushException as exc:
            if exc.response is None:  # refused before sending: the stored keys are unusable
                return SendResult(
                    SendStatus.FAILED_PERMANENT,
                    detail=f"unusable subscription: {exc.message}",
                    rejection=Rejection.INVALID_ADDRESS,
                )
            return result_for(exc.response)
        except _BAD_URL as exc:
            return SendResult(
                SendStatus.FAILED_PERMANENT,
                detail=f"unusable endpoint: {type(exc).__name__}",
                rejection=Rejection.INVALID_ADDRESS,
            )
        except requests.RequestException as exc:
            if not never_reached(exc):
                raise  # a timeout or reset after sending: it may have gone out, so never resend (→ unknown)
            return SendResult(
                SendStatus.FAILED_TRANSIENT,
                detail=f"push service unreachable: {type(exc).__name__}",
                raw={"error": str(exc)[:DETAIL_LIMIT]},
            )
        except ValueError as exc:  # keys that do not decode to a P-256 point or an auth secret
            return SendResult(
                SendStatus.FAILED_PERMANENT,
                detail=f"unusable subscription keys: {exc}"[:DETAIL_LIMIT],
                rejection=Rejection.INVALID_ADDRESS,
            )
        return result_for(response)
