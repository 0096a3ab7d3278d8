"""shop_app.domain is pure: every import is from the standard library, shop_app.domain itself, or
the error vocabulary (shop_app.errors, standard library only too): no Flask, SQLAlchemy, RQ,
Redis, Twilio, HTTP."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import shop_app.domain

DOMAIN_DIR = Path(shop_app.domain.__file__).resolve().parent
PACKAGE = "shop_app.domain"
STDLIB = frozenset(sys.stdlib_module_names)
DYNAMIC_IMPORTERS = {"__import__", "import_module"}


def _module_name(path: Path) -> str:
    relative = path.relative_to(DOMAIN_DIR).with_suffix("")
    parts = [p for p in relative.parts if p != "__init__"]
    return ".".join([PACKAGE, *parts])


#: The one module outside the domain it may import: every exception derives from its base.
ERRORS = "shop_app.errors"


def _allowed(module: str) -> bool:
    in_domain = module == PACKAGE or module.startswith(PACKAGE + ".")
    return in_domain or module == ERRORS or module.split(".")[0] in STDLIB


def _resolve_relative(current: str, is_package: bool, level: int, module: str | None) -> str:
    base = current.split(".")
    # In a module, level 1 is its package; in a package's __init__, level 1 is the package itself.
    keep = len(base) - level + (1 if is_package else 0)
    if keep <= 0:
        return "<beyond the top-level package>"
    return ".".join(base[:keep] + ([module] if module else []))


def violations(source: str, module: str, *, is_package: bool = False) -> list[str]:
    """Every import in `source` that is neither standard library nor shop_app.domain."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                names = [_resolve_relative(module, is_package, node.level, node.module)]
            else:
                names = [node.module or ""]
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if called in DYNAMIC_IMPORTERS:
                arg = node.args[0] if node.args else None
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    names = [arg.value]
                else:
                    found.append(f"line {node.lineno}: dynamic import that cannot be checked")
        for name in names:
            if not _allowed(name):
                found.append(f"line {node.lineno}: {name}")
    return found


def domain_files() -> list[Path]:
    return sorted(DOMAIN_DIR.rglob("*.py"))


def test_there_are_domain_modules_to_check() -> None:
    names = {p.name for p in domain_files()}
    assert {"__init__.py", "models.py", "settings.py", "planner.py", "payloads.py"} <= names


@pytest.mark.parametrize("path", domain_files(), ids=lambda p: str(p.relative_to(DOMAIN_DIR)))
def test_domain_imports_only_stdlib_and_itself(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    problems = violations(source, _module_name(path), is_package=path.name == "__init__.py")
    assert problems == [], (
        f"{path.relative_to(DOMAIN_DIR.parent.parent)} imports outside the standard library:\n" + "\n".join(problems)
    )


def test_the_error_vocabulary_is_as_pure_as_the_domain() -> None:
    path = DOMAIN_DIR.parent / "errors.py"
    assert violations(path.read_text(encoding="utf-8"), ERRORS) == []


# -- the checker itself can fail -----------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "import flask",
        "import sqlalchemy.orm",
        "from redis import Redis",
        "from rq import Queue",
        "import os, requests",
        "from shop_app import runtime",
        "from shop_app.adapters.outgoing import send",
        "import shop_app",
        "from .. import config",
        "from ..adapters import queue",
        "def f():\n    import twilio\n",
        "try:\n    import httpx\nexcept ImportError:\n    pass\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from flask import Flask\n",
        "__import__('flask')",
        "import importlib\nimportlib.import_module('sqlalchemy')",
        "import importlib\nname = 'x'\nimportlib.import_module(name)",
    ],
)
def test_checker_catches_outside_imports(source: str) -> None:
    assert violations(source, "shop_app.domain.example") != []


@pytest.mark.parametrize(
    "source",
    [
        "from __future__ import annotations",
        "import re, enum, zoneinfo",
        "from datetime import datetime, timezone",
        "from decimal import Decimal",
        "import xml.etree.ElementTree",
        "from shop_app.domain.models import Channel",
        "from shop_app.domain import windows",
        "from . import models",
        "from .validation import FieldError",
        "import importlib\nimportlib.import_module('json')",
    ],
)
def test_checker_allows_stdlib_and_domain(source: str) -> None:
    assert violations(source, "shop_app.domain.example") == []


def test_relative_import_in_the_package_init() -> None:
    assert violations("from . import models", PACKAGE, is_package=True) == []
    assert violations("from .. import runtime", PACKAGE, is_package=True) != []
