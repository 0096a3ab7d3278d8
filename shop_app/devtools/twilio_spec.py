"""Twilio's pinned OpenAPI specs, loaded once per process, and the request checks of the development Twilio.

The spec files are read from ../shared/fixtures/twilio (never copied into the project); where they
are absent the development server runs without validation and says so.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT7

log = logging.getLogger(__name__)

ENV_VAR = "RECLAIM_TWILIO_SPEC_DIR"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPEC_DIR = PROJECT_ROOT.parent / "shared" / "fixtures" / "twilio"
#: Which spec file describes which API, and the path prefix that API's URLs start with.
SPEC_FILES = {"api": "twilio_api_v2010.json", "content": "twilio_content_v1.json"}
PATH_PREFIXES = {"api": "/2010-04-01/", "content": "/v1/"}

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
#: A channel address such as whatsapp:+15552229999 (Twilio also knows messenger:, rcs:, …).
CHANNEL_ADDRESS = re.compile(r"^[a-z]+:.+$")
SHORT_CODE = re.compile(r"^[0-9]{3,8}$")
ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")

_cache: dict[Path, TwilioSpec] = {}
_lock = threading.Lock()


# --- formats the specs use ----------------------------------------------------------------------

FORMATS = FormatChecker(formats=())


@FORMATS.checks("phone-number")
def _phone_number(value: object) -> bool:
    """E.164, a channel address, a short code or an alphanumeric sender ID (From takes all four)."""
    if not isinstance(value, str):
        return True
    return bool(
        E164.match(value) or CHANNEL_ADDRESS.match(value) or SHORT_CODE.match(value) or ALPHANUMERIC_SENDER.match(value)
    )


@FORMATS.checks("uri")
def _uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme and parts.netloc) and not any(ch.isspace() for ch in value)


@FORMATS.checks("date-time")
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None
    except ValueError:
        return False


@FORMATS.checks("date-time-rfc-2822")
def _date_time_rfc_2822(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return False
    return True


@FORMATS.checks("currency")
def _currency(value: object) -> bool:
    return not isinstance(value, str) or bool(re.fullmatch(r"[A-Za-z]{3}", value))


# --- the loaded spec ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One reason a request does not fit the spec."""

    parameter: str | None  # the offending parameter, when there is one
    kind: str  # "unknown" | "required" | "invalid" | "conditional" | "repeated" | "media-type"
    message: str


@dataclass(frozen=True)
class Operation:
    api: str  # "api" | "content"
    method: str  # upper case
    template: str  # the spec's path, e.g. /2010-04-01/Accounts/{AccountSid}/Messages.json
    pattern: re.Pattern[str]
    parameters: dict[str, dict[str, dict]]  # location ("path", "query") -> name -> schema
    required: frozenset[str]  # required path and query parameters
    body_media_type: str | None
    body_schema: dict | None  # converted, strict
    conditional: tuple[tuple[str, ...], ...]  # groups of body parameter names, one of each needed
    responses: dict[int, dict] = field(default_factory=dict)  # status -> converted, open schema

    @property
    def name(self) -> str:
        return f"{self.method} {self.template}"


class TwilioSpec:
    """The operations of both specs, with validators built on demand.

    It tells the development server whether a request is one Twilio would take: the operation
    exists, the path parameters fit, the body has only known parameters of the right types, and
    the spec's `x-twilio.conditional` groups (a vendor extension no schema validator knows: "one
    of From/MessagingServiceSid") are satisfied.
    """

    def __init__(self, documents: dict[str, dict]):
        self._raw = documents
        resources = []
        self._schemas: dict[tuple[str, bool], dict] = {}
        for api, document in documents.items():
            for strict in (True, False):
                uri = _uri_of(api, strict)
                components = {
                    name: _convert(schema, uri, strict)
                    for name, schema in document.get("components", {}).get("schemas", {}).items()
                }
                self._schemas[(api, strict)] = components
                resources.append((uri, DRAFT7.create_resource({"components": {"schemas": components}})))
        self.registry: Registry = Registry().with_resources(resources)
        self.operations: list[Operation] = [
            op for api, document in documents.items() for op in self._operations(api, document)
        ]

    # --- lookup -------------------------------------------------------------------------------

    def api_of(self, path: str) -> str | None:
        return next((api for api, prefix in PATH_PREFIXES.items() if path.startswith(prefix)), None)

    def match(self, method: str, path: str) -> tuple[Operation | None, dict[str, str], bool]:
        """(operation, path parameters, path known): path known but no operation means 405."""
        path_known = False
        for op in self.operations:
            found = op.pattern.fullmatch(path)
            if found:
                path_known = True
                if op.method == method.upper():
                    return op, found.groupdict(), True
        return None, {}, path_known

    # --- checks -------------------------------------------------------------------------------

    def check_parameters(self, op: Operation, location: str, values: dict[str, list[str]]) -> list[Problem]:
        """Path or query parameters: known, required present, values fit their schemas."""
        problems: list[Problem] = []
        declared = op.parameters.get(location, {})
        for name in values:
            if name not in declared:
                problems.append(Problem(name, "unknown", f"{location} parameter {name!r} is not part of {op.name}"))
        for name in declared:
            if name in op.required and name not in values:
                problems.append(Problem(name, "required", f"{location} parameter {name!r} is required"))
        for name, schema in declared.items():
            if name in values:
                value = _coerce(values[name][-1], schema, self)
                problems.extend(self._errors(schema, value, prefix=name))
        return problems

    def check_form(self, op: Operation, form: dict[str, list[str]]) -> tuple[dict[str, Any], list[Problem]]:
        """A url-encoded body: coerced to the schema's types (repeated keys → arrays), then validated."""
        schema = op.body_schema or {"type": "object", "additionalProperties": False, "properties": {}}
        properties = schema.get("properties", {})
        coerced: dict[str, Any] = {}
        problems: list[Problem] = []
        for name, values in form.items():
            prop = self._resolve(properties.get(name, {}))
            if prop.get("type") == "array" or "array" in (prop.get("type") or []):
                items = self._resolve(prop.get("items", {}))
                coerced[name] = [_coerce(value, items, self) for value in values]
            elif len(values) > 1:
                problems.append(Problem(name, "repeated", f"{name!r} is given {len(values)} times; it takes one value"))
                coerced[name] = values[-1]
            else:
                coerced[name] = _coerce(values[0], prop, self)
        problems.extend(self._errors(schema, coerced))
        problems.extend(_conditional_problems(op, coerced))
        return coerced, problems

    def check_json(self, op: Operation, body: Any) -> list[Problem]:
        if op.body_schema is None:
            return [] if body is None else [Problem(None, "unknown", f"{op.name} takes no body")]
        return self._errors(op.body_schema, body) + _conditional_problems(op, body if isinstance(body, dict) else {})

    def check_response(self, op: Operation, status: int, body: Any) -> list[str]:
        """Problems with an answer the development server is about to give (its own bugs)."""
        schema = op.responses.get(status)
        if schema is None:
            return [f"{op.name} documents no {status} response"] if 200 <= status < 300 else []
        return [p.message for p in self._errors(schema, body)]

    # --- internals ----------------------------------------------------------------------------

    def _errors(self, schema: dict, instance: Any, prefix: str | None = None) -> list[Problem]:
        validator = Draft7Validator(schema, registry=self.registry, format_checker=FORMATS)
        problems = []
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
            problems.extend(_problems_of(error, instance, prefix))
        return problems

    def _resolve(self, schema: dict) -> dict:
        """Follow a converted `$ref` (one level at a time) to the schema it names."""
        seen = 0
        while "$ref" in schema and seen < 10:
            uri, _, pointer = schema["$ref"].partition("#")
            api, strict = _parse_uri(uri)
            name = pointer.rsplit("/", 1)[-1]
            schema = self._schemas[(api, strict)].get(name, {})
            seen += 1
        return schema

    def _operations(self, api: str, document: dict) -> Iterable[Operation]:
        strict_uri, open_uri = _uri_of(api, True), _uri_of(api, False)
        for template, item in document.get("paths", {}).items():
            shared = item.get("parameters", [])
            for method in ("get", "post", "delete", "put", "patch"):
                op = item.get(method)
                if op is None:
                    continue
                parameters: dict[str, dict[str, dict]] = {}
                required: set[str] = set()
                for parameter in [*shared, *op.get("parameters", [])]:
                    location = parameter.get("in")
                    if location not in ("path", "query"):
                        continue
                    parameters.setdefault(location, {})[parameter["name"]] = _convert(
                        parameter.get("schema", {}), strict_uri, True
                    )
                    if parameter.get("required") or location == "path":
                        required.add(parameter["name"])
                media_type, body_schema = None, None
                content = (op.get("requestBody") or {}).get("content") or {}
                if content:
                    media_type, raw = next(iter(content.items()))
                    body_schema = _convert(raw.get("schema", {}), strict_uri, True)
                responses = {}
                for status, response in op.get("responses", {}).items():
                    schema = ((response.get("content") or {}).get("application/json") or {}).get("schema")
                    if schema is not None and status.isdigit():
                        responses[int(status)] = _convert(schema, open_uri, False)
                conditional = tuple(tuple(group) for group in (op.get("x-twilio") or {}).get("conditional", []))
                yield Operation(
                    api,
                    method.upper(),
                    template,
                    _template_pattern(template),
                    parameters,
                    frozenset(required),
                    media_type,
                    body_schema,
                    conditional,
                    responses,
                )


def _uri_of(api: str, strict: bool) -> str:
    return f"urn:reclaim:twilio-spec:{api}:{'request' if strict else 'response'}"


def _parse_uri(uri: str) -> tuple[str, bool]:
    *_, api, mode = uri.split(":")
    return api, mode == "request"


def _template_pattern(template: str) -> re.Pattern[str]:
    """/Accounts/{AccountSid}/Messages/{Sid}.json → a regex with one named group per parameter."""
    parts = re.split(r"\{([A-Za-z0-9_]+)\}", template)
    regex = "".join(re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]+)" for index, part in enumerate(parts))
    return re.compile(regex)


def template_pattern(template: str) -> re.Pattern[str]:
    """The same matcher the spec uses, for the server's own route table when no spec is loaded."""
    return _template_pattern(template)


_DROPPED_KEYS = ("description", "example", "examples", "x-twilio", "nullable")
_SUBSCHEMA_KEYS = ("items", "additionalProperties", "allOf", "anyOf", "oneOf", "not")


def _convert(schema: Any, uri: str, strict: bool) -> Any:
    """OpenAPI 3.0 → JSON Schema draft 7: nullable types, absolute `$ref`s, strict request objects.

    `nullable` becomes a "null" type, and `$ref`s point into the registry so any sub-schema can be
    validated on its own. Request schemas are strict (`additionalProperties: false` wherever
    properties are listed), so a misspelt parameter is refused instead of silently ignored; response
    schemas stay open, because Twilio adds fields without notice.
    """
    if isinstance(schema, list):
        return [_convert(item, uri, strict) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {
        key: _convert_value(key, value, uri, strict) for key, value in schema.items() if key not in _DROPPED_KEYS
    }
    if (schema.get("x-twilio") or {}).get("ignoreFormat"):
        out.pop("format", None)
    if schema.get("nullable"):
        out = _nullable(out)
    if strict and "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def _convert_value(key: str, value: Any, uri: str, strict: bool) -> Any:
    """One keyword of a schema object: local `$ref`s made absolute, subschemas converted."""
    if key == "$ref" and isinstance(value, str) and value.startswith("#"):
        return uri + value
    if key == "properties" and isinstance(value, dict):
        return {name: _convert(prop, uri, strict) for name, prop in value.items()}
    if key in _SUBSCHEMA_KEYS:
        return _convert(value, uri, strict)
    return value


def _nullable(out: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI's `nullable: true` as JSON Schema: null joins the type, the enum or a `$ref`."""
    if isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    if "$ref" in out:
        out = {"anyOf": [{"$ref": out.pop("$ref")}, {"type": "null"}], **out}
    return out


def _coerce(value: str, schema: dict, spec: TwilioSpec) -> Any:
    """A form or query string as the schema's scalar type; left as a string when it does not parse,
    so the validator reports the type error."""
    schema = spec._resolve(schema)
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "integer" in kinds and re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    if "number" in kinds:
        try:
            return float(value)
        except ValueError:
            return value
    if "boolean" in kinds and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _conditional_problems(op: Operation, body: dict) -> list[Problem]:
    """`x-twilio.conditional`: each group (snake_case names) needs at least one of its parameters."""
    problems = []
    names = {_snake(name): name for name in (op.body_schema or {}).get("properties", {})}
    for group in op.conditional:
        wire = [names.get(name, name) for name in group]
        if not any(body.get(name) not in (None, "", []) for name in wire):
            problems.append(Problem(None, "conditional", "one of " + ", ".join(wire) + " is required"))
    return problems


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _problems_of(error, instance: Any, prefix: str | None) -> list[Problem]:
    path = [str(part) for part in error.absolute_path]
    where = ".".join(filter(None, [prefix, *path])) or None
    if error.validator == "required":
        present = error.instance if isinstance(error.instance, dict) else {}
        return [
            Problem(".".join(filter(None, [where, name])), "required", f"{name!r} is required")
            for name in error.validator_value
            if name not in present
        ]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {}))
        return [
            Problem(".".join(filter(None, [where, name])), "unknown", f"unknown parameter {name!r}")
            for name in error.instance
            if name not in known
        ]
    value = error.instance
    shown = value if not isinstance(value, str) or len(value) <= 60 else value[:57] + "..."
    return [Problem(where, "invalid", f"{where or 'body'}: {shown!r} {_reason(error)}")]


def _reason(error) -> str:
    checks = {
        "pattern": lambda: f"does not match {error.validator_value}",
        "format": lambda: f"is not a valid {error.validator_value}",
        "enum": lambda: "is not one of " + ", ".join(str(v) for v in error.validator_value if v is not None),
        "type": lambda: f"is not of type {error.validator_value}",
        "maxLength": lambda: f"is longer than {error.validator_value} characters",
        "minLength": lambda: f"is shorter than {error.validator_value} characters",
    }
    return checks.get(error.validator, lambda: error.message)()


# --- loading ------------------------------------------------------------------------------------


def spec_location(explicit: str | Path | None = None) -> Path:
    """The explicit folder, else $RECLAIM_TWILIO_SPEC_DIR, else ../shared beside the project."""
    return Path(explicit or os.environ.get(ENV_VAR) or DEFAULT_SPEC_DIR)


def load_spec(folder: str | Path) -> TwilioSpec:
    """Read and convert both spec files once per process (the Messages spec is 1.8 MB)."""
    key = Path(folder).resolve()
    with _lock:
        spec = _cache.get(key)
        if spec is None:
            documents = {api: json.loads((key / name).read_text(encoding="utf-8")) for api, name in SPEC_FILES.items()}
            spec = _cache[key] = TwilioSpec(documents)
        return spec


def find_spec(explicit: str | Path | None = None) -> TwilioSpec | None:
    folder = spec_location(explicit)
    missing = [name for name in SPEC_FILES.values() if not (folder / name).is_file()]
    if missing:
        log.warning(
            "Twilio OpenAPI spec %s not found in %s (set %s): the development Twilio server will "
            "answer WITHOUT validating requests",
            ", ".join(missing),
            folder,
            ENV_VAR,
        )
        return None
    return load_spec(folder)


__all__ = [
    "TwilioSpec",
    "Operation",
    "Problem",
    "find_spec",
    "load_spec",
    "spec_location",
    "template_pattern",
    "DEFAULT_SPEC_DIR",
    "ENV_VAR",
    "E164",
    "FORMATS",
]
