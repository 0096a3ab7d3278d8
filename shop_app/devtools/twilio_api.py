"""A development Twilio (the Messages and Content APIs) for tests and `reclaim demo`, never for production.

`TwilioApiServer` says how to drive it; its requests are checked against Twilio's OpenAPI specs
when twilio_spec.py finds them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Flask, Response, request
from twilio.request_validator import RequestValidator

from shop_app.devtools import twilio_spec
from shop_app.devtools.serving import BackgroundServer
from shop_app.domain.sms import sms_length

log = logging.getLogger(__name__)

DEFAULT_ACCOUNT_SID = "AC" + "0" * 31 + "1"
DEFAULT_AUTH_TOKEN = "reclaim-dev-twilio-auth-token"
#: The number a Messaging Service "picks" from its pool when a message names no From.
POOL_NUMBER = "+15005550006"
API_VERSION = "2010-04-01"
WHATSAPP = "whatsapp:"
MAX_VALUE_LENGTH = 1600  # Body and each ContentVariables value (Twilio error 21658)
MAX_VALIDITY_PERIOD = 36000
WHATSAPP_WINDOW_SECONDS = 24 * 3600
E164 = twilio_spec.E164

#: Twilio's words for the errors this server gives (https://www.twilio.com/docs/api/errors/{code}).
ERROR_MESSAGES: dict[int, str] = {
    20001: "Invalid parameter",
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    20503: "Service Unavailable",
    21211: "Invalid 'To' Phone Number",
    21212: "Invalid 'From' Phone Number",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21609: "Invalid 'StatusCallback'",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
    21635: "'To' number cannot be a landline",
    21656: "The ContentVariables Parameter is invalid",
    21658: "Parameter exceeded character limit",
    21910: "Invalid From and To pair. From and To should be of the same channel",
    63016: (
        "Failed to send freeform message because you are outside the allowed window. "
        "If you want to send messages outside this window, please use a Message Template."
    ),
}

#: Inbound keywords Twilio handles on long codes, as Advanced Opt-Out reports them
#: (twilio.com/docs/messaging/tutorials/advanced-opt-out).
OPT_OUT_KEYWORDS: dict[str, str] = {
    **{word: "STOP" for word in ("STOP", "UNSUBSCRIBE", "END", "QUIT", "STOPALL", "REVOKE", "OPTOUT", "CANCEL")},
    **{word: "START" for word in ("START", "YES", "UNSTOP")},
    **{word: "HELP" for word in ("HELP", "INFO")},
}

# Which spec problems Twilio reports with which code (first problem wins); the rest are 20001.
_PARAMETER_CODES: dict[tuple[str | None, str], int] = {
    ("To", "required"): 21604,
    ("To", "invalid"): 21211,
    ("From", "invalid"): 21212,
    ("StatusCallback", "invalid"): 21609,
    ("ContentVariables", "invalid"): 21656,
}

# The operations this server answers; with the spec loaded they must also exist there.
CREATE_MESSAGE = "POST /2010-04-01/Accounts/{AccountSid}/Messages.json"
FETCH_MESSAGE = "GET /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json"
CREATE_CONTENT = "POST /v1/Content"
FETCH_CONTENT = "GET /v1/Content/{Sid}"
CREATE_APPROVAL = "POST /v1/Content/{ContentSid}/ApprovalRequests/whatsapp"
FETCH_APPROVAL = "GET /v1/Content/{Sid}/ApprovalRequests"
ROUTES = (CREATE_MESSAGE, FETCH_MESSAGE, CREATE_CONTENT, FETCH_CONTENT, CREATE_APPROVAL, FETCH_APPROVAL)
_ROUTE_PATTERNS = [
    (name, name.split(" ", 1)[0], twilio_spec.template_pattern(name.split(" ", 1)[1])) for name in ROUTES
]


# --- state --------------------------------------------------------------------------------------


@dataclass
class DevMessage:
    """A message Twilio accepted: the parameters as sent and the resource as Twilio shows it now."""

    sid: str
    params: dict[str, Any]  # the form as received (repeated keys as lists)
    resource: dict[str, Any]

    @property
    def to(self) -> str:
        return self.params["To"]

    @property
    def body(self) -> str | None:
        return self.params.get("Body")

    @property
    def content_sid(self) -> str | None:
        return self.params.get("ContentSid")

    @property
    def content_variables(self) -> dict | None:
        raw = self.params.get("ContentVariables")
        return json.loads(raw) if raw else None

    @property
    def status_callback(self) -> str | None:
        return self.params.get("StatusCallback")

    @property
    def status(self) -> str:
        return self.resource["status"]


@dataclass
class DevContent:
    sid: str
    friendly_name: str | None
    language: str
    variables: dict[str, str]
    types: dict[str, Any]
    created: float
    approval: dict[str, Any] | None = None  # the `whatsapp` object once submitted

    def body(self, values: dict[str, str] | None = None) -> str:
        text = ((self.types.get("twilio/text") or {}).get("body")) or ""
        merged = {**self.variables, **(values or {})}
        return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: str(merged.get(m.group(1), m.group(0))), text)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    operation: str | None  # e.g. "POST /v1/Content", when the request named one
    headers: dict[str, str]
    params: dict[str, Any]  # the form (one value, or a list when repeated) or the query
    json: Any
    status: int
    answer: Any
    outcome: str  # "ok" | "refused" (invalid) | "failed" (injected) | "rejected" (Twilio's rule) | "bug"
    problems: tuple[str, ...] = ()  # why it was refused


@dataclass
class _Failure:
    status: int
    code: int
    message: str | None
    retry_after: float | None
    remaining: int | None  # None: every time
    problem_details: bool = False  # answer in RFC 9457 form (the SDK raises TwilioServiceException)


@dataclass(frozen=True)
class _Answer:
    status: int
    body: Any
    outcome: str = "ok"
    problems: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)


# --- server -------------------------------------------------------------------------------------


class TwilioApiServer(BackgroundServer):
    """Twilio's Messages and Content APIs on 127.0.0.1 (a free port), served from a thread.

        with TwilioApiServer() as server:
            transport = TwilioTransport(server.account(messaging_service_sid=MG),
                                        api_base=server.api_base, content_base=server.content_base)
            server.fail_for(to="+34600000001", code=21610)          # that recipient opted out
            server.fail_next(status=429, code=20429, retry_after=2)  # the next request is throttled
            ...
            server.messages                      # what Twilio accepted, with the parameters as sent
            server.refused                       # requests Twilio would have refused as invalid
            url, params, signature = server.status_callback(sid, "delivered")

    The two APIs share the port (their paths do not overlap):
        api.twilio.com      POST /2010-04-01/Accounts/{AccountSid}/Messages.json        create a message
                            GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json  fetch it
        content.twilio.com  POST /v1/Content, GET /v1/Content/{Sid}                      templates
                            POST /v1/Content/{ContentSid}/ApprovalRequests/whatsapp      submit to Meta
                            GET  /v1/Content/{Sid}/ApprovalRequests                      Meta's verdict

    Every request needs HTTP Basic auth with this server's account. With the specs loaded, every
    request is checked against them (operation, path and body parameters and their types, the
    `x-twilio` conditional groups) and so is every answer. Twilio's own rules that no spec states
    (Body and ContentSid never together, the WhatsApp 24-hour window, 1,600-character values,
    STOP) apply either way. Refusals answer like Twilio: HTTP 400 `{"code", "message",
    "more_info", "status"}`.
    """

    thread_name = "dev-twilio-api"

    def __init__(
        self,
        spec_dir: str | Path | None = None,
        *,
        validate: bool = True,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.account_sid, self.auth_token = account_sid, auth_token
        self.spec = twilio_spec.find_spec(spec_dir) if validate else None
        self.clock = clock
        self._host, self._port = host, port
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._messages: dict[str, DevMessage] = {}
        self._contents: dict[str, DevContent] = {}
        self._recipient_failures: dict[str, _Failure] = {}
        self._next_failures: list[_Failure] = []
        self._delays: list[float] = []
        self._opted_out: set[str] = set()
        self._windows: dict[str, float] = {}  # WhatsApp address -> last inbound message time
        self._requests: list[RecordedRequest] = []
        self.app = self._build_app()

    @property
    def validating(self) -> bool:
        return self.spec is not None

    # --- addresses (start, stop and url come from BackgroundServer) ------------------------------

    @property
    def api_base(self) -> str:
        """Replaces https://api.twilio.com."""
        return self.url

    @property
    def content_base(self) -> str:
        """Replaces https://content.twilio.com."""
        return self.url

    def reset(self) -> None:
        """Forget every message, template, failure, opt-out, window and recorded request."""
        with self._lock:
            for store in (self._messages, self._contents, self._recipient_failures, self._windows):
                store.clear()
            self._next_failures.clear()
            self._delays.clear()
            self._opted_out.clear()
            self._requests.clear()

    # --- arranging (tests, demo) --------------------------------------------------------------

    def account(self, **senders):
        """A TwilioAccount for this server's credentials; `senders` as TwilioAccount takes them."""
        from shop_app.adapters.twilio_messaging import TwilioAccount

        return TwilioAccount(self.account_sid, self.auth_token, **senders)

    def fail_for(
        self,
        to: str,
        code: int,
        *,
        status: int = 400,
        message: str | None = None,
        count: int | None = None,
        problem_details: bool = False,
    ) -> None:
        """Creates to `to` (exactly as sent, e.g. "whatsapp:+34…") answer Twilio error `code`.
        `count` None: until reset; e.g. 21610 opted out, 21614 landline, 63016 outside the window.
        `problem_details`: the RFC 9457 error form some Twilio services answer with."""
        with self._lock:
            self._recipient_failures[to] = _Failure(status, code, message, None, count, problem_details)

    def fail_next(
        self,
        status: int,
        code: int | None = None,
        *,
        retry_after: float | None = None,
        count: int = 1,
        message: str | None = None,
        problem_details: bool = False,
    ) -> None:
        """The next `count` authenticated requests, whatever they are, answer `status` with Twilio's
        error JSON (429 → code 20429, 5xx → 20500/20503 unless given) and nothing is created."""
        code = code or (20429 if status == 429 else 20503 if status == 503 else 20500 if status >= 500 else 20001)
        with self._lock:
            self._next_failures.extend(
                _Failure(status, code, message, retry_after, 1, problem_details) for _ in range(count)
            )

    def delay_next(self, seconds: float, count: int = 1) -> None:
        """The next `count` requests are carried out, then answered only after `seconds`: the
        client's read timeout fires while the message already exists."""
        with self._lock:
            self._delays.extend([seconds] * count)

    def set_approval(self, content_sid: str, status: str, reason: str = "") -> None:
        """Meta's verdict on a template created here: "approved", "rejected", "paused", …"""
        with self._lock:
            content = self._contents[content_sid]
            approval = content.approval or {
                "type": "whatsapp",
                "name": content.friendly_name or "template",
                "category": "MARKETING",
                "content_type": _content_type(content.types),
                "allow_category_change": True,
            }
            content.approval = {**approval, "status": status, "rejection_reason": reason}

    def opt_out(self, number: str) -> None:
        """What a STOP from `number` does: later SMS to it answer 21610."""
        with self._lock:
            self._opted_out.add(number)

    # --- records ------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def refused(self) -> list[RecordedRequest]:
        """Requests Twilio would have refused as invalid (auth, spec, parameter rules)."""
        return [r for r in self.requests if r.outcome == "refused"]

    @property
    def messages(self) -> list[DevMessage]:
        with self._lock:
            return [replace(m, resource=dict(m.resource)) for m in self._messages.values()]

    def message(self, sid: str) -> DevMessage:
        with self._lock:
            found = self._messages[sid]
            return replace(found, resource=dict(found.resource))

    def content(self, sid: str) -> DevContent:
        with self._lock:
            return self._contents[sid]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # --- what Twilio sends to the app ---------------------------------------------------------

    def status_callback(
        self, message_sid: str, status: str, error_code: int | None = None
    ) -> tuple[str, dict[str, str], str]:
        """The signed POST Twilio makes to the message's StatusCallback when it reaches `status`:
        (url, form params, X-Twilio-Signature). The stored message moves to `status` too."""
        with self._lock:
            message = self._messages[message_sid]
            url = message.status_callback
            if not url:
                raise ValueError(f"message {message_sid} was created without a StatusCallback")
            resource = message.resource
            now = _rfc2822(self.clock())
            resource.update(
                status=status,
                date_updated=now,
                error_code=error_code,
                error_message=ERROR_MESSAGES.get(error_code) if error_code else None,
            )
            if status in ("sent", "delivered", "undelivered", "read") and resource["date_sent"] is None:
                resource["date_sent"] = now
            params = {
                "AccountSid": self.account_sid,
                "ApiVersion": API_VERSION,
                "From": resource["from"] or POOL_NUMBER,
                "To": resource["to"],
                "MessageSid": message_sid,
                "SmsSid": message_sid,
                "MessageStatus": status,
                "SmsStatus": status,
            }
        if resource["messaging_service_sid"]:
            params["MessagingServiceSid"] = resource["messaging_service_sid"]
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        if resource["to"].startswith(WHATSAPP):
            params["ChannelPrefix"] = "whatsapp"
            if status == "read":
                params["EventType"] = "READ"
        elif status in ("delivered", "undelivered"):
            params["RawDlrDoneDate"] = datetime.fromtimestamp(self.clock(), UTC).strftime("%y%m%d%H%M")
        return url, params, RequestValidator(self.auth_token).compute_signature(url, params)

    def inbound(
        self, from_: str, to: str, body: str, url: str, auth_token: str | None = None
    ) -> tuple[dict[str, str], str]:
        """The signed POST Twilio makes to the number's messaging URL for an incoming message:
        (form params, X-Twilio-Signature). SMS keywords carry OptOutType (Advanced Opt-Out) and
        STOP/START change whether later sends to `from_` answer 21610; a WhatsApp message opens
        that customer's 24-hour window."""
        sid = self._sid("SM")
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsMessageSid": sid,
            "AccountSid": self.account_sid,
            "From": from_,
            "To": to,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": API_VERSION,
        }
        with self._lock:
            if from_.startswith(WHATSAPP):
                params.update(ProfileName="Dev Customer", WaId=from_[len(WHATSAPP) :].lstrip("+"))
                self._windows[from_] = self.clock()
            else:
                keyword = OPT_OUT_KEYWORDS.get(body.strip().upper())
                if keyword:
                    params["OptOutType"] = keyword
                if keyword == "STOP":
                    self._opted_out.add(from_)
                elif keyword == "START":
                    self._opted_out.discard(from_)
        return params, RequestValidator(auth_token or self.auth_token).compute_signature(url, params)

    # --- HTTP ---------------------------------------------------------------------------------

    def _build_app(self) -> Flask:
        app = Flask("reclaim_dev_twilio_api")

        @app.route("/", defaults={"path": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        @app.route("/<path:path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        def anything(path: str) -> Response:
            return self._respond("/" + path)

        return app

    def _respond(self, path: str) -> Response:
        params, body, parse_problem = _read_body()
        operation: str | None = None
        try:
            operation, answer = self._process(path, params, body, parse_problem)
        except Exception as exc:  # a bug here must show up in the test, not as a hang
            log.exception("development Twilio server failed on %s %s", request.method, path)
            answer = _Answer(500, _error_body(20500, 500, f"development server error: {exc!r}"), "bug")
        with self._lock:
            delay = self._delays.pop(0) if self._delays else 0.0
            self._requests.append(
                RecordedRequest(
                    method=request.method,
                    path=path,
                    operation=operation,
                    headers=dict(request.headers),
                    params=params if params is not None else _flat(request.args.to_dict(flat=False)),
                    json=body,
                    status=answer.status,
                    answer=answer.body,
                    outcome=answer.outcome,
                    problems=answer.problems,
                )
            )
        if delay:
            time.sleep(delay)
        response = Response(json.dumps(answer.body), status=answer.status, mimetype="application/json")
        for name, value in answer.headers.items():
            response.headers[name] = value
        return response

    def _process(
        self, path: str, form: dict | None, body: Any, parse_problem: str | None
    ) -> tuple[str | None, _Answer]:
        auth = request.authorization
        if (
            auth is None
            or auth.type != "basic"
            or auth.username != self.account_sid
            or auth.password != self.auth_token
        ):
            return None, _refusal(20003, "HTTP Basic auth with this account's SID and auth token is required", 401)
        failure = self._take_failure()
        if failure is not None:
            return None, _failure_answer(failure)
        if parse_problem:
            return None, _refusal(20001, parse_problem)
        name, path_params, problems = self._operation(path, form, body)
        if name is None:
            if problems:  # the path exists, the method does not
                return None, _refusal(20001, problems[0].message, 405)
            return None, _refusal(20404, f"{request.method} {path} is not a Twilio operation", 404)
        if problems:
            return name, _refusal(
                _code_for(problems[0]),
                "; ".join(p.message for p in problems),
                problems=tuple(p.message for p in problems),
            )
        account = path_params.get("AccountSid")
        if account is not None and account != self.account_sid:
            return name, _refusal(20003, f"AccountSid {account} in the URL is not the authenticated account", 401)
        if name not in ROUTES:
            return name, _Answer(
                404, _error_body(20404, 404, f"{name} is not modelled by the development server"), "unmodelled"
            )
        answer = self._handlers()[name](path_params, form if form is not None else body)
        return name, self._checked(name, answer)

    def _operation(self, path: str, form: dict | None, body: Any) -> tuple[str | None, dict[str, str], list]:
        """The operation's name, its path parameters and the spec's problems with the request."""
        method = request.method
        if self.spec is None:
            for name, route_method, pattern in _ROUTE_PATTERNS:
                found = pattern.fullmatch(path)
                if found and route_method == method:
                    return name, found.groupdict(), []
            return None, {}, []
        op, path_params, path_known = self.spec.match(method, path)
        if op is None:
            wrong_method = twilio_spec.Problem(None, "method", f"{method} is not allowed on {path}")
            return None, {}, [wrong_method] if path_known else []
        problems = self.spec.check_parameters(op, "path", {k: [v] for k, v in path_params.items()})
        problems += self.spec.check_parameters(op, "query", request.args.to_dict(flat=False))
        content_type = (request.mimetype or "").lower()
        if op.body_media_type is not None and content_type != op.body_media_type:
            wanted = f"{op.name} takes {op.body_media_type}, not {content_type or 'nothing'}"
            problems.append(twilio_spec.Problem(None, "media-type", wanted))
        elif op.body_media_type == "application/x-www-form-urlencoded":
            _, form_problems = self.spec.check_form(op, _multi(form or {}))
            problems += form_problems
        elif op.body_media_type is not None:
            problems += self.spec.check_json(op, body)
        elif request.get_data():
            problems.append(twilio_spec.Problem(None, "unknown", f"{op.name} takes no request body"))
        return op.name, path_params, problems

    def _checked(self, name: str, answer: _Answer) -> _Answer:
        """With the spec loaded, a 2xx answer must fit the documented response schema."""
        if self.spec is None or not 200 <= answer.status < 300:
            return answer
        op, _, _ = self.spec.match(name.split(" ", 1)[0], request.path)
        wrong = self.spec.check_response(op, answer.status, answer.body) if op else []
        if wrong:
            log.error("development Twilio answer to %s does not fit the spec: %s", name, wrong)
            return _Answer(
                500,
                _error_body(20500, 500, "development server answer does not fit the spec: " + "; ".join(wrong)),
                "bug",
                tuple(wrong),
            )
        return answer

    def _take_failure(self) -> _Failure | None:
        with self._lock:
            return self._next_failures.pop(0) if self._next_failures else None

    def _handlers(self) -> dict[str, Callable[[dict[str, str], Any], _Answer]]:
        return {
            CREATE_MESSAGE: self._create_message,
            FETCH_MESSAGE: self._fetch_message,
            CREATE_CONTENT: self._create_content,
            FETCH_CONTENT: self._fetch_content,
            CREATE_APPROVAL: self._create_approval,
            FETCH_APPROVAL: self._fetch_approval,
        }

    # --- Messages -----------------------------------------------------------------------------

    def _create_message(self, path_params: dict[str, str], form: dict[str, Any]) -> _Answer:
        refusals = _message_rules(form)
        if refusals:
            code, _ = refusals[0]
            return _refusal(code, "; ".join(text for _, text in refusals), problems=tuple(t for _, t in refusals))
        to = form["To"]
        with self._lock:
            failure = self._recipient_failure(to)
            if failure is not None:
                return _failure_answer(failure)
            if not to.startswith(WHATSAPP) and to in self._opted_out:
                return _rejection(21610)
            if to.startswith(WHATSAPP) and not self._whatsapp_allowed(form):
                return _rejection(63016)
            sid = self._sid("MM" if form.get("MediaUrl") else "SM")
            message = DevMessage(sid, dict(form), self._message_resource(sid, form))
            self._messages[sid] = message
            return _Answer(201, dict(message.resource))

    def _recipient_failure(self, to: str) -> _Failure | None:
        failure = self._recipient_failures.get(to)
        if failure is None:
            return None
        if failure.remaining is not None:
            failure.remaining -= 1
            if failure.remaining <= 0:
                del self._recipient_failures[to]
        return failure

    def _whatsapp_allowed(self, form: dict[str, Any]) -> bool:
        """Inside the 24-hour window anything goes; outside it only an approved template.
        A ContentSid this server did not create is taken as approved (tests pass any HX sid)."""
        opened = self._windows.get(form["To"])
        if opened is not None and self.clock() - opened < WHATSAPP_WINDOW_SECONDS:
            return True
        sid = form.get("ContentSid")
        if not sid:
            return False
        content = self._contents.get(sid)
        return content is None or (content.approval or {}).get("status") == "approved"

    def _message_resource(self, sid: str, form: dict[str, Any]) -> dict[str, Any]:
        service = form.get("MessagingServiceSid")
        to = form["To"]
        body = form.get("Body")
        if body is None and form.get("ContentSid") in self._contents:
            body = self._contents[form["ContentSid"]].body(json.loads(form.get("ContentVariables") or "{}"))
        body = body or ""
        if service:
            segments = "0"  # Twilio picks the sender later, so it cannot count yet
        elif to.startswith(WHATSAPP):
            segments = "1"
        else:
            segments = str(max(1, sms_length(body).segments))
        media = form.get("MediaUrl") or []
        now = _rfc2822(self.clock())
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": service,
            "num_media": str(len(media) if isinstance(media, list) else 1),
            "num_segments": segments,
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if service else "queued",
            "subresource_uris": {"media": f"{base}/Media.json", "feedback": f"{base}/Feedback.json"},
            "to": to,
            "uri": f"{base}.json",
        }

    def _fetch_message(self, path_params: dict[str, str], _body: Any) -> _Answer:
        with self._lock:
            message = self._messages.get(path_params["Sid"])
            if message is None:
                return _Answer(404, _error_body(20404, 404, f"The requested resource {request.path} was not found"))
            return _Answer(200, dict(message.resource))

    # --- Content ------------------------------------------------------------------------------

    def _create_content(self, _path_params: dict[str, str], body: Any) -> _Answer:
        problems = _content_rules(body)
        if problems:
            return _refusal(20001, "; ".join(problems), problems=tuple(problems))
        with self._lock:
            content = DevContent(
                self._sid("HX"),
                body.get("friendly_name"),
                body["language"],
                dict(body.get("variables") or {}),
                body["types"],
                self.clock(),
            )
            self._contents[content.sid] = content
            return _Answer(201, self._content_resource(content))

    def _fetch_content(self, path_params: dict[str, str], _body: Any) -> _Answer:
        with self._lock:
            content = self._contents.get(path_params["Sid"])
            if content is None:
                return _Answer(404, _error_body(20404, 404, f"The requested resource {request.path} was not found"))
            return _Answer(200, self._content_resource(content))

    def _create_approval(self, path_params: dict[str, str], body: Any) -> _Answer:
        problems = _approval_rules(body)
        if problems:
            return _refusal(20001, "; ".join(problems), problems=tuple(problems))
        with self._lock:
            content = self._contents.get(path_params["ContentSid"])
            if content is None:
                return _Answer(404, _error_body(20404, 404, f"Content {path_params['ContentSid']} was not found"))
            content.approval = {
                "type": "whatsapp",
                "name": body["name"],
                "category": body["category"],
                "content_type": _content_type(content.types),
                "status": "received",
                "rejection_reason": "",
                "allow_category_change": True,
            }
            answer = {k: v for k, v in content.approval.items() if k != "type"}
            return _Answer(201, answer)

    def _fetch_approval(self, path_params: dict[str, str], _body: Any) -> _Answer:
        with self._lock:
            content = self._contents.get(path_params["Sid"])
            if content is None:
                return _Answer(404, _error_body(20404, 404, f"Content {path_params['Sid']} was not found"))
            return _Answer(
                200,
                {
                    "sid": content.sid,
                    "account_sid": self.account_sid,
                    "whatsapp": dict(content.approval or {}),
                    "url": f"{self.url}/v1/Content/{content.sid}/ApprovalRequests",
                },
            )

    def _content_resource(self, content: DevContent) -> dict[str, Any]:
        url = f"{self.url}/v1/Content/{content.sid}"
        when = _iso(content.created)
        return {
            "sid": content.sid,
            "account_sid": self.account_sid,
            "friendly_name": content.friendly_name,
            "language": content.language,
            "variables": content.variables,
            "types": content.types,
            "url": url,
            "date_created": when,
            "date_updated": when,
            "links": {
                "approval_create": f"{url}/ApprovalRequests/whatsapp",
                "approval_fetch": f"{url}/ApprovalRequests",
            },
        }

    def _sid(self, prefix: str) -> str:
        return prefix + secrets.token_hex(16)


# --- Twilio's rules that no spec states -----------------------------------------------------------


def _message_rules(form: dict[str, Any]) -> list[tuple[int, str]]:
    """(code, explanation) for each way a Messages create breaks Twilio's documented rules."""
    found: list[tuple[int, str]] = []
    to, sender, service = form.get("To"), form.get("From"), form.get("MessagingServiceSid")
    body, content_sid, variables = form.get("Body"), form.get("ContentSid"), form.get("ContentVariables")
    if not to:
        found.append((21604, "'To' is required"))
    elif not _address_ok(to):
        found.append((21211, f"'To' {to!r} is not an E.164 number or whatsapp:+E.164 address"))
    if not sender and not service:
        found.append((21603, "one of 'From' or 'MessagingServiceSid' is required"))
    if not (body or form.get("MediaUrl") or content_sid):
        found.append((21602, "one of 'Body', 'MediaUrl' or 'ContentSid' is required"))
    if body and content_sid:
        found.append(
            (
                20001,
                "'Body' and 'ContentSid' cannot be combined: a template's text comes from the "
                "template (WhatsApp refuses a Body-template outside the 24-hour window)",
            )
        )
    if isinstance(body, str) and len(body) > MAX_VALUE_LENGTH:
        found.append((21658, f"'Body' has {len(body)} characters; the limit is {MAX_VALUE_LENGTH}"))
    if variables is not None:
        found.extend(_variables_rules(variables, content_sid))
    if to and sender and to.startswith(WHATSAPP) != sender.startswith(WHATSAPP):
        found.append((21910, f"'From' {sender!r} and 'To' {to!r} are on different channels"))
    callback = form.get("StatusCallback")
    if callback is not None and not _callback_ok(callback):
        found.append((21609, f"'StatusCallback' {callback!r} must be an http(s) URL whose host has no underscore"))
    validity = form.get("ValidityPeriod")
    if validity is not None and not (
        isinstance(validity, int)
        and 1 <= validity <= MAX_VALIDITY_PERIOD
        or str(validity).isdigit()
        and 1 <= int(validity) <= MAX_VALIDITY_PERIOD
    ):
        found.append((20001, f"'ValidityPeriod' {validity!r} must be an integer from 1 to {MAX_VALIDITY_PERIOD}"))
    return found


def _variables_rules(variables: Any, content_sid: Any) -> list[tuple[int, str]]:
    found = []
    if not content_sid:
        found.append((20001, "'ContentVariables' needs 'ContentSid'"))
    try:
        parsed = json.loads(variables) if isinstance(variables, str) else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
        found.append((21656, '\'ContentVariables\' must be a JSON object of string values, e.g. {"1": "Ann"}'))
    elif any(len(v) > MAX_VALUE_LENGTH for v in parsed.values()):
        found.append((21658, f"a 'ContentVariables' value is longer than {MAX_VALUE_LENGTH} characters"))
    return found


def _content_rules(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["the body must be a JSON object"]
    problems = []
    if not body.get("language"):
        problems.append("'language' is required")
    types = body.get("types")
    if not isinstance(types, dict) or not types:
        problems.append("'types' needs at least one content type, e.g. twilio/text")
    elif "twilio/text" in types and not (types["twilio/text"] or {}).get("body"):
        problems.append("twilio/text needs a 'body'")
    variables = body.get("variables") or {}
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        problems.append("'variables' must map names to string sample values")
    return problems


def _approval_rules(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["the body must be a JSON object"]
    problems = []
    if not re.fullmatch(r"[a-z0-9_]{1,512}", str(body.get("name") or "")):
        problems.append("'name' must be lower-case letters, digits and underscores (Meta's rule)")
    if body.get("category") not in ("MARKETING", "UTILITY", "AUTHENTICATION"):
        problems.append("'category' must be MARKETING, UTILITY or AUTHENTICATION")
    return problems


def _address_ok(address: str) -> bool:
    return bool(E164.match(address[len(WHATSAPP) :] if address.startswith(WHATSAPP) else address))


def _callback_ok(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and "_" not in (parts.hostname or "")


def _content_type(types: dict[str, Any]) -> str:
    return next(iter(types), "twilio/text")


# --- answers --------------------------------------------------------------------------------------


def _error_body(code: int, status: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _refusal(code: int, explanation: str, status: int = 400, problems: tuple[str, ...] = ()) -> _Answer:
    """An invalid request, answered as Twilio does and recorded as refused."""
    message = f"{ERROR_MESSAGES.get(code, 'Invalid request')}: {explanation}"
    return _Answer(status, _error_body(code, status, message), "refused", problems or (explanation,))


def _rejection(code: int) -> _Answer:
    """A valid request Twilio turns down by its own rules (opted out, outside the window)."""
    return _Answer(400, _error_body(code, 400, ERROR_MESSAGES[code]), "rejected")


def _failure_answer(failure: _Failure, outcome: str = "failed") -> _Answer:
    headers = {}
    if failure.retry_after is not None:
        headers["Retry-After"] = f"{failure.retry_after:g}"
    message = failure.message or ERROR_MESSAGES.get(failure.code, f"Error {failure.code}")
    body = _error_body(failure.code, failure.status, message)
    if failure.problem_details:
        body = {
            "type": body["more_info"],
            "title": ERROR_MESSAGES.get(failure.code, message),
            "status": failure.status,
            "code": failure.code,
            "detail": message,
            "instance": request.path,
        }
    return _Answer(failure.status, body, outcome, (), headers)


def _code_for(problem: twilio_spec.Problem) -> int:
    if problem.kind == "conditional":
        return 21603 if "From" in problem.message else 21602 if "Body" in problem.message else 20001
    return _PARAMETER_CODES.get((problem.parameter, problem.kind), 20001)


def _read_body() -> tuple[dict[str, Any] | None, Any, str | None]:
    """(form with repeated keys as lists, JSON body, why the body could not be read)."""
    raw = request.get_data(as_text=True)
    mimetype = (request.mimetype or "").lower()
    if mimetype == "application/x-www-form-urlencoded":
        return _flat(parse_qs(raw, keep_blank_values=True)), None, None
    if mimetype == "application/json":
        try:
            return None, json.loads(raw) if raw else None, None
        except ValueError as exc:
            return None, None, f"the body is not JSON: {exc}"
    return None, None, None


def _flat(multi: dict[str, list[str]]) -> dict[str, Any]:
    return {name: values[0] if len(values) == 1 else values for name, values in multi.items()}


def _multi(form: dict[str, Any]) -> dict[str, list[str]]:
    return {name: value if isinstance(value, list) else [value] for name, value in form.items()}


def _rfc2822(timestamp: float) -> str:
    return format_datetime(datetime.fromtimestamp(timestamp, UTC))


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- command line -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Development Twilio Messages + Content API (never for production)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--spec-dir",
        help=f"folder with Twilio's OpenAPI JSON (default ${twilio_spec.ENV_VAR} or ../shared/fixtures/twilio)",
    )
    parser.add_argument("--account-sid", default=DEFAULT_ACCOUNT_SID)
    parser.add_argument("--auth-token", default=DEFAULT_AUTH_TOKEN)
    args = parser.parse_args(argv)
    server = TwilioApiServer(
        args.spec_dir, account_sid=args.account_sid, auth_token=args.auth_token, port=args.port
    ).start()
    print(f"TWILIO_API_BASE_URL={server.api_base} TWILIO_CONTENT_BASE_URL={server.content_base}", flush=True)
    print(
        f"account {server.account_sid}, auth token {server.auth_token} "
        f"(validation {'on' if server.validating else 'OFF'})",
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()


__all__ = [
    "TwilioApiServer",
    "DevMessage",
    "DevContent",
    "RecordedRequest",
    "DEFAULT_ACCOUNT_SID",
    "DEFAULT_AUTH_TOKEN",
    "ERROR_MESSAGES",
    "OPT_OUT_KEYWORDS",
]
