"""Polaris and App Bridge markup, checked against Shopify's own descriptions of them.

`polaris/custom-elements.json` (the Custom Elements Manifest of @shopify/polaris-types) lists
every <s-*> tag with its attributes and, for enumerated ones, the allowed values;
`app-bridge/index.d.ts` (@shopify/app-bridge-types) names App Bridge's elements (s-app-nav,
ui-save-bar, ui-title-bar, ui-modal, …) and their attribute interfaces. A page's markup is
checked the way GraphQL documents are checked against the Admin API schema: any <s-*> or
<ui-*> tag, attribute or enumerated value these files do not define is a problem.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

#: Attributes every HTML element takes (and `data-*` / `aria-*`).
GLOBAL_ATTRIBUTES = frozenset({"id", "class", "slot", "hidden", "lang", "dir", "title", "tabindex", "style", "role"})
_QUOTED = re.compile(r'^"([^"]*)"$')

#: tag → {attribute (lower case) → allowed values, or None for any value}
Spec = dict[str, dict[str, frozenset[str] | None]]


def _allowed(type_text: str) -> frozenset[str] | None:
    """The values a union of string literals allows; None when the type admits others."""
    values = []
    for part in (p.strip() for p in type_text.split("|")):
        match = _QUOTED.match(part)
        if not match:
            return None
        values.append(match.group(1))
    return frozenset(values)


def polaris_spec(manifest: Path) -> Spec:
    spec: Spec = {}
    for module in json.loads(manifest.read_text())["modules"]:
        for declaration in module["declarations"]:
            tag = declaration.get("tagName")
            if not tag:
                continue
            attributes = spec.setdefault(tag, {})
            for attribute in declaration.get("attributes", []):
                allowed = _allowed(attribute.get("type", {}).get("text", "string"))
                name = attribute["name"].lower()
                previous = attributes.get(name, frozenset())
                attributes[name] = None if allowed is None or previous is None else previous | allowed
    return spec


def _interface_members(source: str, name: str, seen: set[str] | None = None) -> dict[str, frozenset[str] | None]:
    """The properties of a TypeScript interface (and those it extends), as attributes."""
    seen = seen if seen is not None else set()
    if name in seen:
        return {}
    seen.add(name)
    match = re.search(rf"interface {re.escape(name)}(?: extends ([\w$, <>]+))? \{{\n(.*?)\n\}}", source, re.S)
    if not match:
        return {}
    members: dict[str, frozenset[str] | None] = {}
    for parent in (match.group(1) or "").split(","):
        parent = parent.strip()
        if parent and "<" not in parent:
            members.update(_interface_members(source, parent, seen))
    for prop, type_text in re.findall(r"^\t(\w+)\??: ([^;]+);", match.group(2), re.M):
        if prop != "children":
            members[prop.lower()] = _allowed(type_text) if type_text != "boolean" else None
    return members


def app_bridge_spec(declarations: Path) -> Spec:
    source = declarations.read_text()
    block = re.search(r"interface AppBridgeElements \{\n(.*?)\n\}", source, re.S)
    assert block, "AppBridgeElements not found in index.d.ts"
    spec: Spec = {}
    for tag, interface in re.findall(r'^\t"([\w-]+)": (\w+);', block.group(1), re.M):
        spec[tag] = _interface_members(source, interface)
    return spec


def load_spec(manifest: Path, declarations: Path) -> Spec:
    spec = polaris_spec(manifest)
    for tag, attributes in app_bridge_spec(declarations).items():
        merged = spec.setdefault(tag, {})
        for name, allowed in attributes.items():
            merged.setdefault(name, allowed)
    return spec


class _Checker(HTMLParser):
    def __init__(self, spec: Spec):
        super().__init__(convert_charrefs=True)
        self.spec, self.problems = spec, []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not tag.startswith(("s-", "ui-")):
            return
        line = self.getpos()[0]
        if tag not in self.spec:
            self.problems.append(f"line {line}: <{tag}> is not a Polaris or App Bridge element")
            return
        known = self.spec[tag]
        for name, value in attrs:
            if name in GLOBAL_ATTRIBUTES or name.startswith(("data-", "aria-")):
                continue
            if name not in known:
                self.problems.append(f"line {line}: <{tag}> has no attribute {name!r}")
                continue
            allowed = known[name]
            if allowed is not None and (value or "") not in allowed:
                self.problems.append(f"line {line}: <{tag} {name}={value!r}> is not one of {sorted(allowed)}")


def markup_problems(html: str, spec: Spec) -> list[str]:
    checker = _Checker(spec)
    checker.feed(html)
    checker.close()
    return checker.problems
