"""One error vocabulary: every exception the project defines derives from ReclaimError, and
errors.py holds no class nobody raises or catches."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

from shop_app.errors import ReclaimError

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("shop_app", "jobs", "webhooks", "admin_ui", "storefront")
#: Alembic's env.py runs migrations when imported; it defines no class.
NOT_IMPORTABLE = {"shop_app.storage.migrations.env"}


def modules() -> list[str]:
    names = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "versions" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(p for p in parts if p != "__init__") if parts[-1] == "__init__" else ".".join(parts)
            if name not in NOT_IMPORTABLE:
                names.append(name)
    return names


def test_every_exception_the_project_defines_derives_from_reclaim_error():
    outsiders = []
    for name in modules():
        module = importlib.import_module(name)
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == name and issubclass(cls, BaseException) and not issubclass(cls, ReclaimError):
                outsiders.append(f"{name}.{cls_name}")
    assert outsiders == []


def test_every_shared_error_is_used_outside_errors_py():
    errors_py = ROOT / "shop_app" / "errors.py"
    defined = [n.name for n in ast.parse(errors_py.read_text()).body if isinstance(n, ast.ClassDef)]
    sources = "\n".join(
        path.read_text(encoding="utf-8")
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if path != errors_py
    )
    unused = [name for name in defined if name != "ReclaimError" and name not in sources]
    assert unused == []
