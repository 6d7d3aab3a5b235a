"""Backward compatibility of event schemas: the rules on small examples, then every schema
(and topic) against its version on the main branch."""

from __future__ import annotations

import json

import pytest

from crm_contracts import events
from crm_contracts.compat import breaking_changes


def obj(properties: dict, required=(), **extra) -> dict:
    return {"type": "object", "properties": properties, "required": list(required), **extra}


BASE = obj(
    {
        "id": {"type": "string"},
        "status": {"type": "string", "enum": ["active", "inactive"]},
        "phones": {"type": "array", "items": {"type": "string"}},
        "address": obj({"city": {"type": "string"}}),
    },
    required=["id", "status"],
)


def changed(**properties) -> dict:
    return BASE | {"properties": BASE["properties"] | properties}


def test_identical_schema_is_compatible():
    assert breaking_changes(BASE, json.loads(json.dumps(BASE))) == []


@pytest.mark.parametrize(
    "new",
    [
        changed(email={"type": ["string", "null"]}),  # optional property added
        changed(status={"type": "string", "enum": ["active", "inactive", "blocked"]}),  # enum value added
        changed(id={"type": "string", "description": "UUID", "maxLength": 36}),  # annotations
        BASE | {"required": ["id"]},  # requirement relaxed
        BASE | {"additionalProperties": True},  # explicitly open, as before
    ],
    ids=["optional-property-added", "enum-value-added", "annotations", "required-relaxed", "still-open"],
)
def test_additive_changes_are_compatible(new):
    assert breaking_changes(BASE, new) == []


def test_removed_property():
    new = BASE | {"properties": {k: v for k, v in BASE["properties"].items() if k != "phones"}}
    assert breaking_changes(BASE, new) == ["$.phones: property removed"]


def test_property_type_changed():
    assert breaking_changes(BASE, changed(id={"type": "integer"})) == ["$.id: type changed from string to integer"]


def test_property_made_nullable_is_a_type_change():
    assert breaking_changes(BASE, changed(id={"type": ["string", "null"]})) == [
        "$.id: type changed from string to null|string"
    ]


def test_new_required_property():
    new = changed(region_code={"type": "string"}) | {"required": ["id", "status", "region_code"]}
    assert breaking_changes(BASE, new) == ["$.region_code: became required"]


def test_optional_property_becoming_required():
    assert breaking_changes(BASE, BASE | {"required": ["id", "status", "phones"]}) == ["$.phones: became required"]


def test_enum_value_removed():
    assert breaking_changes(BASE, changed(status={"type": "string", "enum": ["active"]})) == [
        "$.status: enum value(s) removed: 'inactive'"
    ]


def test_enum_introduced_on_a_free_property():
    assert breaking_changes(BASE, changed(id={"type": "string", "enum": ["a"]})) == ["$.id: values restricted to ['a']"]


@pytest.mark.parametrize(
    ("old_extra", "new_extra", "expected"),
    [
        (None, False, "any allowed -> none allowed"),
        (True, {"type": "string"}, "any allowed -> a schema"),
        ({"type": "string"}, False, "a schema -> none allowed"),
    ],
)
def test_additional_properties_tightened(old_extra, new_extra, expected):
    old = BASE if old_extra is None else BASE | {"additionalProperties": old_extra}
    assert breaking_changes(old, BASE | {"additionalProperties": new_extra}) == [
        f"$: additionalProperties tightened ({expected})"
    ]


def test_additional_properties_loosened_is_compatible():
    assert breaking_changes(BASE | {"additionalProperties": False}, BASE) == []


def test_nested_objects_and_array_items_are_compared():
    new = changed(
        address=obj({"city": {"type": "integer"}}, required=["city"]),
        phones={"type": "array", "items": {"type": "integer"}},
    )
    assert breaking_changes(BASE, new) == [
        "$.phones[]: type changed from string to integer",
        "$.address.city: type changed from string to integer",
        "$.address.city: became required",
    ]


def test_definitions_are_compared():
    old = BASE | {"$defs": {"money": obj({"amount_tiyn": {"type": "integer"}}), "gone": {"type": "string"}}}
    new = BASE | {"$defs": {"money": obj({})}}
    assert breaking_changes(old, new) == [
        "$.$defs.money.amount_tiyn: property removed",
        "$.$defs.gone: definition removed",
    ]


def test_several_breaks_are_all_reported():
    new = changed(id={"type": "integer"}, status={"type": "string", "enum": []}) | {"additionalProperties": False}
    assert len(breaking_changes(BASE, new)) == 3


# --- the real schemas against main -----------------------------------------------------------


@pytest.mark.parametrize("path", sorted(events.SCHEMAS.glob("*.json")), ids=lambda p: p.stem)
def test_schema_is_backward_compatible_with_main(path, show_on_main):
    on_main = show_on_main(path)
    if on_main is None:
        pytest.skip(f"{path.name} is new (not on main)")
    changes = breaking_changes(json.loads(on_main), json.loads(path.read_text()))
    assert not changes, (
        f"{path.name} breaks its consumers: {changes}; make the change additive or publish a new topic version"
    )


def test_no_topic_or_schema_on_main_was_deleted(list_on_main):
    for directory in (events.TOPICS, events.SCHEMAS):
        missing = [name for name in list_on_main(directory) if not (directory / name).exists()]
        assert not missing, f"removed from {directory.name}/ although main publishes them: {missing}"
