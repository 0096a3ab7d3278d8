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


def declaration(tag: str | None, attributes=(), members=(), slots=()) -> dict:
    found: dict = {"kind": "class", "name": "X", "customElement": True, "members": list(members)}
    found["attributes"] = [
        {"name": name.lower(), "fieldName": name, "type": {"text": kind}} for name, kind in attributes
    ]
    found["slots"] = [{"name": slot, "description": ""} for slot in slots]
    if tag:
        found["tagName"] = tag
    return found


def test_form_controls_properties_and_slots_come_from_the_manifest():
    form_associated = [{"name": "formAssociated", "static": True}]
    manifest = {
        "modules": [
            {"declarations": [declaration("s-color-picker", [("value", "string")], form_associated)]},
            {
                "declarations": [
                    declaration("s-text-field", [("label", "string"), ("name", "string"), ("maxLength", "number")])
                ]
            },
            {
                "declarations": [
                    declaration(
                        "s-modal",
                        [("heading", '"a" | "b"'), ("showOverlay", "() => void"), ("open", "boolean")],
                        slots=["", "primary-action", "primary-action"],
                    ),
                    declaration(None, [("name", "string")]),
                ]
            },
        ]
    }
    manifest["modules"][1]["declarations"][0]["attributes"].append(
        {"name": "value", "fieldName": "defaultValue", "type": {"text": "string"}}
    )
    assert elements(manifest) == [
        Element("s-color-picker", True, (("value", "string"),)),
        Element("s-modal", False, (("heading", "string"), ("open", "boolean")), ("primary-action",)),
        Element(
            "s-text-field",
            True,
            (("defaultValue", "string value"), ("label", "string"), ("maxLength", "number"), ("name", "string")),
        ),
    ]


def test_regenerating_replaces_only_the_generated_block():
    source = f"(() => {{\n  const before = 1;\n  {BEGIN}\n  const ELEMENTS = {{}};\n  {END}\n"
    source += "  const after = 2;\n})();\n"
    manifest = {"modules": [{"declarations": [declaration("s-text-field", [("label", "string"), ("name", "string")])]}]}
    assert regenerate(source, manifest) == (
        "(() => {\n  const before = 1;\n"
        f"  {BEGIN}\n"
        "  /** Every Polaris tag: a form control or not, its properties (attributes) and named slots. */\n"
        "  const ELEMENTS = {\n"
        '    "s-text-field": { field: true, properties: { label: "string", name: "string" }, slots: [] },\n'
        "  };\n"
        f"  {END}\n"
        "  const after = 2;\n})();\n"
    )
