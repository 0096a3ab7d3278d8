"""The shape a newcomer can read in an afternoon: small modules, short functions, a send job
that reads like the architecture. The development servers (shop_app/devtools) are exempt
from the module size; they mirror whole provider APIs."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE_PACKAGES = ("shop_app", "jobs", "webhooks", "admin_ui", "storefront", "bench")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60
MAX_SEND_JOB_LINES = 120


def source_files() -> list[Path]:
    return sorted(p for package in SOURCE_PACKAGES for p in (ROOT / package).rglob("*.py"))


def line_count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def long_functions(path: Path, limit: int, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > limit:
                found.append(f"{path.relative_to(root)}:{node.lineno} {node.name}() is {length} lines")
    return found


def test_no_module_is_over_the_limit_outside_the_development_servers():
    devtools = ROOT / "shop_app" / "devtools"
    too_long = [
        f"{path.relative_to(ROOT)}: {line_count(path)} lines"
        for path in source_files()
        if devtools not in path.parents and line_count(path) > MAX_MODULE_LINES
    ]
    assert too_long == []


def test_no_function_is_over_the_limit():
    assert [found for path in source_files() for found in long_functions(path, MAX_FUNCTION_LINES)] == []


def test_the_send_job_stays_short():
    assert line_count(ROOT / "jobs" / "send.py") <= MAX_SEND_JOB_LINES


def test_the_function_check_can_fail(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    sample = tmp_path / "sample.py"
    sample.write_text(f"def long():\n{body}\n")
    assert long_functions(sample, MAX_FUNCTION_LINES, root=tmp_path) == [
        f"sample.py:1 long() is {MAX_FUNCTION_LINES + 1} lines"
    ]


def logged_tracebacks(path: Path, root: Path = ROOT) -> list[str]:
    """`log.exception(...)` or `exc_info=True`: both print the exception's own text, which may
    quote a customer's data (a constraint's DETAIL line, a provider's error)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute) and node.func.attr == "exception":
            found.append(f"{path.relative_to(root)}:{node.lineno} .exception()")
        found += [
            f"{path.relative_to(root)}:{node.lineno} exc_info="
            for keyword in node.keywords
            if keyword.arg == "exc_info" and not (isinstance(keyword.value, ast.Constant) and not keyword.value.value)
        ]
    return found


def test_failures_are_logged_by_name_not_by_their_text():
    """Use errors.describe (or errors.trace for a traceback) instead. The development servers
    handle no customer data and may log as they like."""
    devtools = ROOT / "shop_app" / "devtools"
    found = [hit for path in source_files() if devtools not in path.parents for hit in logged_tracebacks(path)]
    assert found == []


def test_the_traceback_check_can_fail(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text("log.exception('x')\nlog.warning('y', exc_info=True)\nlog.info('z', exc_info=False)\n")
    assert logged_tracebacks(sample, tmp_path) == ["m.py:1 .exception()", "m.py:2 exc_info="]
