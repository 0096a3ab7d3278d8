"""Twilio SMS and WhatsApp behind the channel interface, plus Twilio's Content API and webhooks.

The SDK client is built with explicit region/edge, so TWILIO_REGION / TWILIO_EDGE in the
environment can never rewrite the host (they turned 127.0.0.1 into 127.ie1.0.1 in a probe).
"""

from __future__ import annotations

import json
import os
import re
import threading
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.request import Request as TwilioRequest
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.rest.content.v1.content import ContentList
from twilio.rest.content.v1.content.approval_create import ApprovalCreateList

from shop_app.adapters import http_lean
from shop_app.adapters.http_errors import never_reached, retry_after_seconds
from shop_app.adapters.outgoing import OutgoingMessage, Rejection, SendResult, SendStatus
from shop_app.errors import ReclaimError

CONNECT_TIMEOUT_SECONDS = 10.0
#: Long enough for Twilio to answer a create under load; a read timeout leaves the message `unknown`.
READ_TIMEOUT_SECONDS = 30.0
DETAIL_LIMIT = 500

#: How long Twilio may keep one of our messages in its outbound queue before dropping it
#: (status `failed`, error 30001). Twilio's default is 36000 s (10 hours): a recovery SMS
#: released at 20:55, the end of a shop's delivery window, could then reach the customer at
#: 06:00. Normal queueing takes seconds; only a sender backlog (bursts on a 1-segment-per-second
#: long code) takes longer, and 30 minutes drains 1,800 segments. So a message either goes out
#: within half an hour of the moment our window check allowed it, or not at all, which the
#: status callback reports as failed — never a late-night text. Applied to WhatsApp as well:
#: its delivery windows are the same promise.
VALIDITY_PERIOD_SECONDS = 1800

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
#: An auth token as Twilio shows it: visible ASCII. It goes out in HTTP Basic auth and is sealed
#: (UTF-8) at rest, so a control character or a lone surrogate must be refused here, not crash there.
AUTH_TOKEN = re.compile(r"[\x21-\x7e]{1,256}")
#: Meta's rule for WhatsApp template names: lower-case letters, digits and underscores.
TEMPLATE_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
WHATSAPP_PREFIX = "whatsapp:"
TEMPLATE_CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")

#: Twilio error codes that say the address cannot take this message: no retry will help, and
#: the send job records why (a 21610 recipient is suppressed for the shop).
REJECTIONS: dict[int, Rejection] = {
    21610: Rejection.SUPPRESSED,  # the recipient texted STOP to this sender or Messaging Service
    21211: Rejection.INVALID_ADDRESS,  # not a valid phone number
    21614: Rejection.INVALID_ADDRESS,  # not a mobile number (cannot receive SMS)
    21635: Rejection.INVALID_ADDRESS,  # a landline, where Twilio refuses landline SMS
    63016: Rejection.TEMPLATE_NEEDED,  # WhatsApp outside the 24-hour window without an approved template
}
RATE_LIMITED = 20429

#: Twilio's MessageStatus (spec `message_enum_status`) in our delivery vocabulary
#: (shop_app.domain.delivery.RANK). `canceled` only ends a message Twilio scheduled and never
#: sent, so it counts as failed; a partial delivery is known to have left Twilio, no more.
#: `receiving`/`received` describe inbound messages and have no place in an outbound story.
STATUS_MAP: dict[str, str] = {
    "accepted": "accepted",
    "scheduled": "scheduled",
    "queued": "queued",
    "sending": "sending",
    "sent": "sent",
    "delivered": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "read": "read",
    "canceled": "failed",
    "partially_delivered": "sent",
}


class ContentApiError(ReclaimError):
    """Twilio's Content API refused a template operation; `code` is Twilio's error code."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


# --- account ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TwilioAccount:
    """One shop's Twilio account: credentials and senders (ChannelConnection.config + secret)."""

    account_sid: str
    auth_token: str = field(repr=False)  # a secret: never in logs or tracebacks
    messaging_service_sid: str | None = None
    from_number: str | None = None  # an SMS-capable Twilio number, E.164
    whatsapp_from: str | None = None  # the WhatsApp sender, "+E164" or "whatsapp:+E164"

    def validate(self, channels: tuple[str, ...] = ("sms",)) -> list[str]:
        """Human-readable problems; empty when the account can send on every channel named."""
        problems = []
        if not ACCOUNT_SID.match(self.account_sid or ""):
            problems.append("Account SID must be AC followed by 32 hexadecimal digits")
        if not self.auth_token:
            problems.append("Auth token is missing")
        elif not AUTH_TOKEN.fullmatch(self.auth_token):
            problems.append("Auth token must be the token Twilio shows: letters, digits and punctuation")
        if self.messaging_service_sid and not MESSAGING_SERVICE_SID.match(self.messaging_service_sid):
            problems.append("Messaging Service SID must be MG followed by 32 hexadecimal digits")
        if self.from_number and not E164.match(self.from_number):
            problems.append("SMS number must be in E.164 format, e.g. +14155550100")
        if self.whatsapp_from and not E164.match(_strip_whatsapp(self.whatsapp_from)):
            problems.append("WhatsApp sender must be an E.164 number, e.g. +14155550100")
        problems.extend(_MISSING_SENDER[channel] for channel in channels if self.sender_for(channel) is None)
        return problems

    def sender_for(self, channel: str) -> dict[str, str] | None:
        """The sender parameters for a channel, or None when the account has none.

        SMS prefers the Messaging Service (sender pool, Advanced Opt-Out, link shortening).
        WhatsApp prefers the named WhatsApp sender: a Messaging Service only works when the
        merchant added that sender to its pool, which we cannot check.
        """
        if channel == "sms":
            if self.messaging_service_sid:
                return {"messaging_service_sid": self.messaging_service_sid}
            return {"from_": self.from_number} if self.from_number else None
        if channel == "whatsapp":
            if self.whatsapp_from:
                return {"from_": WHATSAPP_PREFIX + _strip_whatsapp(self.whatsapp_from)}
            return {"messaging_service_sid": self.messaging_service_sid} if self.messaging_service_sid else None
        return None


_MISSING_SENDER = {
    "sms": "No SMS sender: set a Messaging Service SID or an SMS number",
    "whatsapp": "No WhatsApp sender: set a WhatsApp sender or a Messaging Service SID",
}


def _strip_whatsapp(address: str) -> str:
    return address[len(WHATSAPP_PREFIX) :] if address.startswith(WHATSAPP_PREFIX) else address


# --- HTTP client ----------------------------------------------------------------------------------


class _RecordingHttpClient(TwilioHttpClient):
    """The SDK's HTTP client, keeping the last response of each thread.

    The SDK's exceptions carry no response headers (Retry-After) and its resources do not keep
    the JSON they were built from, so both are read back from here.
    """

    def __init__(self, timeout: tuple[float, float]):
        super().__init__(pool_connections=True)
        assert self.session is not None  # pool_connections: one session, its connections reused
        if not urllib.request.getproxies():
            # No proxy in the environment: requests need not scan it (twice), nor look for ~/.netrc,
            # on every create (a fifth of the SDK's CPU per message, issue 13). The CA bundle it
            # would find there is set once instead, as offline_tokens.http_session does.
            self.session.trust_env = False
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            if bundle:
                self.session.verify = bundle
        # requests takes (connect, read); HttpClient's own check only accepts one number, so the
        # pair is set after it ran (TwilioHttpClient.request uses self.timeout unchecked).
        self.timeout = timeout
        self._local = threading.local()

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: Any = None,
        allow_redirects: bool = False,
    ) -> Response:
        self._local.response = None
        if self.session is None or self.session.trust_env or allow_redirects:
            response = super().request(method, url, params, data, headers, auth, timeout, allow_redirects)
        else:
            response = self._lean(method, url, params, data, headers, auth, timeout)
        self._local.response = response
        return response

    def _lean(self, method, url, params, data, headers, auth, timeout) -> Response:
        """TwilioHttpClient.request's call through http_lean.send: the session's pooled connections
        without its per-call cookie, environment and redirect work (the SDK asks for no redirect)."""
        assert self.session is not None
        kwargs: dict[str, Any] = {"method": method.upper(), "url": url, "params": params, "headers": headers,
                                  "auth": auth, "hooks": self.request_hooks}  # fmt: skip
        as_json = bool(headers) and headers.get("Content-Type") in ("application/json", "application/scim+json")
        kwargs["json" if as_json else "data"] = data
        self.log_request(kwargs)
        self._test_only_last_response = None
        self._test_only_last_request = TwilioRequest(**kwargs)
        answer = http_lean.send(
            self.session, method, url, params=params, headers=headers, auth=auth,
            timeout=self.timeout if timeout is None else timeout,
            json=data if as_json else None, data=None if as_json else data, allow_redirects=False,
        )  # fmt: skip
        self.log_response(answer.status_code, answer)
        self._test_only_last_response = Response(int(answer.status_code), answer.text, answer.headers)
        return self._test_only_last_response

    def last_response(self) -> Response | None:
        return getattr(self._local, "response", None)


# --- transport ----------------------------------------------------------------------------------


class TwilioTransport:
    """Sends SMS and WhatsApp for one Twilio account, and manages its WhatsApp templates.

    `api_base` / `content_base` replace https://api.twilio.com and https://content.twilio.com
    (the development server, tests, the demo). `region`/`edge` are Twilio's data-residency
    routing and are taken only from these arguments, never from the environment.
    """

    esp_name = "twilio"

    def __init__(
        self,
        account: TwilioAccount,
        api_base: str | None = None,
        content_base: str | None = None,
        *,
        region: str | None = None,
        edge: str | None = None,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
    ):
        problems = account.validate(channels=())
        if problems:
            raise ValueError("Twilio account: " + "; ".join(problems))
        if (api_base or content_base) and (region or edge):
            raise ValueError("region/edge rewrite the host: they cannot be combined with api_base/content_base")
        self.account = account
        self._http = _RecordingHttpClient(timeout)
        self.client = Client(account.account_sid, account.auth_token, http_client=self._http)
        # Client() reads TWILIO_REGION / TWILIO_EDGE from os.environ; ours come from the arguments only.
        self.client.region, self.client.edge = region, edge
        if api_base:
            self.client.api.base_url = api_base.rstrip("/")
        if content_base:
            self.client.content.base_url = content_base.rstrip("/")

    def close(self) -> None:
        """Close the pooled HTTP connections (a worker keeps one transport per account)."""
        if self._http.session is not None:
            self._http.session.close()

    def __enter__(self) -> TwilioTransport:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- sending ------------------------------------------------------------------------------

    def send(self, message: OutgoingMessage) -> SendResult:
        """One `Messages.json` create, answered as one normalized SendResult.

        - SMS goes to an E.164 number from the account's Messaging Service (preferred: sender pool,
          Advanced Opt-Out) or its own number, with a ValidityPeriod and our status callback.
        - WhatsApp goes only through an approved template (ContentSid + ContentVariables). Every
          recovery message is business-initiated and we never know whether the customer's 24-hour
          window is open, so a message without a template is refused here, before any HTTP call.
        - Twilio's refusals become FAILED_PERMANENT (with a Rejection the send job acts on when the
          address itself is the problem) or FAILED_TRANSIENT (429, 5xx, no connection). A timeout
          *after* the request left us is not a failure we can name: the message may exist at Twilio,
          so the exception propagates and the send job records `unknown` instead of sending twice.
        """
        if message.channel not in ("sms", "whatsapp"):
            raise ValueError(f"TwilioTransport sends sms and whatsapp, not {message.channel!r}")
        params = self.message_params(message)
        if isinstance(params, SendResult):
            return params
        return self._create(params)

    def message_params(self, message: OutgoingMessage) -> dict[str, Any] | SendResult:
        """The SDK keyword arguments for `messages.create`, or the local refusal.

        Local refusals cost no HTTP call: a channel without a sender, an address that is not
        E.164, and a WhatsApp message without an approved template.
        """
        sender = self.account.sender_for(message.channel)
        if sender is None:
            return SendResult(SendStatus.FAILED_PERMANENT, detail=f"the Twilio account has no {message.channel} sender")
        number = _strip_whatsapp(message.to) if message.channel == "whatsapp" else message.to
        if not E164.match(number or ""):
            return SendResult(
                SendStatus.FAILED_PERMANENT,
                rejection=Rejection.INVALID_ADDRESS,
                detail=f"{message.to!r} is not an E.164 phone number",
            )
        params: dict[str, Any] = {**sender, "validity_period": VALIDITY_PERIOD_SECONDS}
        if message.status_callback:
            params["status_callback"] = message.status_callback
        if message.channel == "sms":
            return {**params, "to": number, "body": message.body}
        if not message.content_sid:
            return SendResult(
                SendStatus.FAILED_PERMANENT,
                rejection=Rejection.TEMPLATE_NEEDED,
                detail="WhatsApp recovery messages are business-initiated: they need an approved "
                "template (content_sid), never free text",
            )
        params.update(to=WHATSAPP_PREFIX + number, content_sid=message.content_sid)
        if message.content_variables:
            params["content_variables"] = json.dumps(
                message.content_variables, ensure_ascii=False, separators=(",", ":")
            )
        return params

    def _create(self, params: dict[str, Any]) -> SendResult:
        try:
            created = self.client.messages.create(**params)
        except (TwilioRestException, TwilioServiceException) as exc:
            return self._refused(exc)
        except requests.ConnectionError as exc:
            if never_reached(exc):
                return SendResult(SendStatus.FAILED_TRANSIENT, detail=f"no connection to Twilio: {exc}"[:DETAIL_LIMIT])
            raise  # the connection broke after the request went out: Twilio may have the message
        return SendResult(
            SendStatus.SENT,
            provider_id=created.sid,
            raw=self._last_json() or {"sid": created.sid},
            detail=created.status,
        )

    def _refused(self, exc: TwilioRestException | TwilioServiceException) -> SendResult:
        status, code = int(exc.status), exc.code
        words = (exc.detail or exc.title) if isinstance(exc, TwilioServiceException) else exc.msg
        detail = f"Twilio {code} (HTTP {status}): {words}"[:DETAIL_LIMIT]
        raw = self._last_json()
        if status == 429 or code == RATE_LIMITED:
            return SendResult(SendStatus.FAILED_TRANSIENT, detail=detail, retry_after=self._retry_after(), raw=raw)
        rejection = REJECTIONS.get(code) if isinstance(code, int) else None
        if rejection is not None:
            return SendResult(SendStatus.FAILED_PERMANENT, detail=detail, rejection=rejection, raw=raw)
        if status >= 500:
            return SendResult(SendStatus.FAILED_TRANSIENT, detail=detail, retry_after=self._retry_after(), raw=raw)
        return SendResult(SendStatus.FAILED_PERMANENT, detail=detail, raw=raw)

    def _last_json(self) -> dict | None:
        response = self._http.last_response()
        try:
            answer = json.loads(response.text) if response is not None else None
        except ValueError:
            return None
        return answer if isinstance(answer, dict) else None

    def _retry_after(self) -> float | None:
        response = self._http.last_response()
        return retry_after_seconds(response.headers.get("Retry-After") if response is not None else None)

    # --- WhatsApp templates (Content API) -----------------------------------------------------

    def create_whatsapp_template(self, friendly_name: str, language: str, body: str, variables: dict[str, str]) -> str:
        """A `twilio/text` template; `variables` are the sample values of {{1}}, {{2}}…; returns the HX sid."""
        request = ContentList.ContentCreateRequest(
            {
                "friendly_name": friendly_name,
                "language": language,
                "variables": dict(variables),
                "types": {"twilio/text": {"body": body}},
            }
        )
        content = self._content_call(lambda: self.client.content.v1.contents.create(request))
        return content.sid

    def submit_for_approval(self, content_sid: str, name: str, category: str = "MARKETING") -> str:
        """Ask Meta (through Twilio) to approve a template; returns the approval status Twilio reports.

        A recovery reminder or a referral ask is marketing (twilio.com/docs/whatsapp/api); Meta may re-categorise.
        """
        if not CONTENT_SID.match(content_sid):
            raise ValueError(f"{content_sid!r} is not a Content SID (HX…)")
        if not TEMPLATE_NAME.match(name):
            raise ValueError("WhatsApp template names use lower-case letters, digits and underscores only")
        if category not in TEMPLATE_CATEGORIES:
            raise ValueError(f"category must be one of {', '.join(TEMPLATE_CATEGORIES)}")
        request = ApprovalCreateList.ContentApprovalRequest({"name": name, "category": category})
        approval = self._content_call(
            lambda: self.client.content.v1.contents(content_sid).approval_create.create(request)
        )
        return approval.status or "received"

    def approval_status(self, content_sid: str) -> tuple[str, str | None]:
        """(WhatsApp approval status, Meta's rejection reason or None); `unsubmitted` before submission."""
        if not CONTENT_SID.match(content_sid):
            raise ValueError(f"{content_sid!r} is not a Content SID (HX…)")
        fetched = self._content_call(lambda: self.client.content.v1.contents(content_sid).approval_fetch().fetch())
        whatsapp = fetched.whatsapp or {}
        return str(whatsapp.get("status") or "unsubmitted"), (str(whatsapp.get("rejection_reason") or "") or None)

    def _content_call(self, call):
        try:
            return call()
        except TwilioServiceException as exc:
            raise ContentApiError(
                f"Twilio {exc.code}: {exc.detail or exc.title}", status=exc.status, code=exc.code
            ) from exc
        except TwilioRestException as exc:
            raise ContentApiError(f"Twilio {exc.code}: {exc.msg}", status=exc.status, code=exc.code) from exc


# --- pure helpers ---------------------------------------------------------------------------------


def rejection_for(error_code: int | str | None) -> Rejection | None:
    """The Rejection a Twilio error code means, for API answers and for status callbacks
    (a WhatsApp 63016 usually arrives as ErrorCode on a `failed` callback, not at create)."""
    try:
        return REJECTIONS.get(int(error_code)) if error_code not in (None, "") else None
    except (TypeError, ValueError):
        return None


def valid_signature(auth_token: str, url: str, params: Mapping[str, Any] | str | None, signature: str | None) -> bool:
    """Whether X-Twilio-Signature fits this request (the SDK's RequestValidator, constant-time compare).

    `url` must be the public URL exactly as Twilio called it (scheme, host, path, query) —
    behind a proxy, rebuild it from the configured callback URL, not from the local request.
    `params` is the POST form as a dict or a MultiDict (repeated keys are signed one by one).
    """
    if not auth_token or not signature or not isinstance(signature, str):
        return False
    return bool(RequestValidator(auth_token).validate(url, params or {}, signature))


def normalized_status(message_status: str | None) -> str | None:
    """Twilio's MessageStatus in our delivery vocabulary (domain.delivery.RANK); None when it has
    no meaning for an outbound message (inbound statuses, values Twilio may add later)."""
    return STATUS_MAP.get((message_status or "").strip().lower())


__all__ = [
    "TwilioAccount",
    "TwilioTransport",
    "ContentApiError",
    "valid_signature",
    "normalized_status",
    "rejection_for",
    "retry_after_seconds",
    "REJECTIONS",
    "STATUS_MAP",
    "VALIDITY_PERIOD_SECONDS",
]
