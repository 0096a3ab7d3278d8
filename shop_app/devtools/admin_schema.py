"""The pinned Admin GraphQL schema (SDL), loaded once per process, and request checks.

The schema file lives only in ../shared (never copied into the project). Where it is
absent the development server runs without validation and says so.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    get_operation_ast,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values

log = logging.getLogger(__name__)

ENV_VAR = "RECLAIM_ADMIN_SCHEMA"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SCHEMA = PROJECT_ROOT.parent / "shared" / "fixtures" / "shopify" / "admin-schema" / "2026-07.graphql"

_cache: dict[Path, GraphQLSchema] = {}
_lock = threading.Lock()


def schema_location(explicit: str | Path | None = None) -> Path:
    """The explicit path, else $RECLAIM_ADMIN_SCHEMA, else ../shared beside the project."""
    return Path(explicit or os.environ.get(ENV_VAR) or DEFAULT_SCHEMA)


def load_schema(path: str | Path) -> GraphQLSchema:
    """Build the SDL at `path` once per process (it is 3.8 MB and takes seconds)."""
    key = Path(path).resolve()
    with _lock:
        schema = _cache.get(key)
        if schema is None:
            # Shopify's SDL breaks a rule graphql-core 3.3 enforces on deprecations
            # (graphql-core 3.3 enforces a rule Shopify's SDL breaks), so it is built without the schema self-check.
            schema = build_schema(key.read_text(encoding="utf-8"), assume_valid=True)
            _strict_scalars(schema)
            _cache[key] = schema
        return schema


def find_schema(explicit: str | Path | None = None) -> GraphQLSchema | None:
    path = schema_location(explicit)
    if not path.is_file():
        log.warning(
            "Admin API schema not found at %s (set %s): the development server will "
            "answer WITHOUT validating documents and variables",
            path,
            ENV_VAR,
        )
        return None
    return load_schema(path)


@dataclass(frozen=True)
class Prepared:
    document: DocumentNode
    operation: OperationDefinitionNode
    variables: dict[str, Any]


def prepare(schema: GraphQLSchema | None, query: Any, variables: Any, operation_name: Any) -> Prepared | list[dict]:
    """Parse, validate and coerce a request as a GraphQL server would; errors as JSON dicts.

    Without a schema only the parse and the operation choice are checked.
    """
    if not isinstance(query, str) or not query.strip():
        return [_error("No query string was present", "MISSING_QUERY")]
    if variables is None:
        variables = {}
    if not isinstance(variables, dict):
        return [_error("Variables must be a JSON object", "INVALID_VARIABLES")]
    if operation_name is not None and not isinstance(operation_name, str):
        return [_error("operationName must be a string", "INVALID_OPERATION_NAME")]
    try:
        document = _parsed(query)
    except GraphQLError as exc:
        return [_graphql_error(exc, "PARSE_ERROR")]
    if schema is not None:
        problems = _problems(schema, query)
        if problems:
            return [_graphql_error(exc, "GRAPHQL_VALIDATION_FAILED") for exc in problems]
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return [
            _error(
                f"No operation named {operation_name!r} (or several operations and no operationName)",
                "OPERATION_NOT_FOUND",
            )
        ]
    if schema is None:
        return Prepared(document, operation, dict(variables))
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables)
    if isinstance(coerced, list):
        return [_graphql_error(exc, "INVALID_VARIABLE") for exc in coerced]
    values = coerced if isinstance(coerced, dict) else coerced.coerced  # graphql-core 3.2 / 3.3
    return Prepared(document, operation, dict(values))


# The app sends a handful of documents, the same text each time: each is parsed (and validated)
# once per process, not per request (the parse was most of the server's time per discount code).
# Nothing changes a parsed document: the server only reads it.
@functools.lru_cache(maxsize=256)
def _parsed(query: str) -> DocumentNode:
    return parse(query)


@functools.lru_cache(maxsize=256)
def _problems(schema: GraphQLSchema, query: str) -> list[GraphQLError]:
    return validate(schema, _parsed(query))


def _error(message: str, code: str) -> dict:
    return {"message": message, "extensions": {"code": code}}


def _graphql_error(exc: GraphQLError, code: str) -> dict:
    error = _error(exc.message, code)
    if exc.locations:
        error["locations"] = [{"line": loc.line, "column": loc.column} for loc in exc.locations]
    return error


# --- scalars --------------------------------------------------------------------------------
# An SDL-built schema accepts any value for a custom scalar. Shopify does not, so the
# scalars our documents use get the checks their schema descriptions state.


def _parse_datetime(value: Any) -> Any:
    if not isinstance(value, str):
        raise TypeError(f"DateTime must be an ISO 8601 string, not {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"DateTime is not ISO 8601: {value!r}") from exc
    if parsed.tzinfo is None:
        raise ValueError(f"DateTime needs a time zone: {value!r}")
    return value


def _parse_decimal(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TypeError("Decimal must be a decimal string")
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal: {value!r}") from exc
    if not number.is_finite():
        raise ValueError(f"not a finite decimal: {value!r}")
    return value


def _parse_url(value: Any) -> Any:
    if not isinstance(value, str) or "://" not in value:
        raise ValueError(f"not a URL: {value!r}")
    return value


_SCALARS = {"DateTime": _parse_datetime, "Decimal": _parse_decimal, "Money": _parse_decimal, "URL": _parse_url}


def _strict_scalars(schema: GraphQLSchema) -> None:
    for name, parser in _SCALARS.items():
        scalar = schema.type_map.get(name)
        if isinstance(scalar, GraphQLScalarType):
            # graphql-core 3.2 calls parse_value; 3.3 calls coerce_input_value. parse_value is a
            # method in 3.3: replacing it on the instance is what GraphQLScalarType(parse_value=...) does.
            scalar.parse_value = parser  # type: ignore[method-assign]
            scalar.coerce_input_value = parser
