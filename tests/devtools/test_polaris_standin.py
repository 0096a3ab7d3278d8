"""The Polaris stand-in's element table is what Polaris's Custom Elements Manifest says."""

from __future__ import annotations

import json

import pytest

from shop_app.devtools import polaris_standin
from shop_app.devtools.polaris_standin import BEGIN, END, Element, elements, regenerate
from tests.conftest import shared_path


@pytest.mark.contract
def test_the_committed_stand_in_is_what_the_manifest_generates():
    manifest = json.loads(shared_path("fixtures", "polaris", "custom-elements.json").read_text())
    committed = polaris_standin.STAND_IN.read_text(encoding="utf-8")
    assert regenerate(committed, manifest) == committed, (
        "run: python -m shop_app.devtools.polaris_standin ../shared/fixtures/polaris/custom-elements.json"
    )
    found = elements(manifest)
    assert len(found) == 62 and all(e.tag.startswith("s-") for e in found)
    fields = {e.tag for e in found if e.form_associated}
    assert {"s-text-field", "s-number-field", "s-select", "s-checkbox", "s-switch", "s-text-area"} <= fields
    assert not fields & {"s-button", "s-section", "s-table", "s-option", "s-page"}


def declaration(tag: str | None, attributes=(), members=()) -> dict:
    found: dict = {"kind": "class", "name": "X", "customElement": True, "members": list(members)}
    found["attributes"] = [{"name": name} for name in attributes]
    if tag:
        found["tagName"] = tag
    return found


def test_form_controls_are_those_declared_form_associated_or_named():
    manifest = {
        "modules": [
            {"declarations": [declaration("s-color-picker", ["value"], [{"name": "formAssociated", "static": True}])]},
            {"declarations": [declaration("s-text-field", ["label", "Name", "value", "label"])]},
            {"declarations": [declaration("s-badge", ["tone"]), declaration(None, ["name"])]},
        ]
    }
    assert elements(manifest) == [
        Element("s-badge", False, ("tone",)),
        Element("s-color-picker", True, ("value",)),
        Element("s-text-field", True, ("label", "name", "value")),
    ]


def test_regenerating_replaces_only_the_generated_block():
    source = f"(() => {{\n  const before = 1;\n  {BEGIN}\n  const ELEMENTS = {{}};\n  {END}\n"
    source += "  const after = 2;\n})();\n"
    manifest = {"modules": [{"declarations": [declaration("s-text-field", ["label", "name"])]}]}
    assert regenerate(source, manifest) == (
        "(() => {\n  const before = 1;\n"
        f"  {BEGIN}\n"
        "  /** Every Polaris tag: [form-associated?, the attributes it observes]. */\n"
        "  const ELEMENTS = {\n"
        '    "s-text-field": [true, ["label", "name"]],\n'
        "  };\n"
        f"  {END}\n"
        "  const after = 2;\n})();\n"
    )
