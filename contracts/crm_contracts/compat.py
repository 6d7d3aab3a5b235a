"""Backward compatibility of an event's JSON Schema between two versions of the contract.

A topic version (``crm.<svc>.<aggregate>.v1``) is a promise to two readers: consumers written
against the old schema keep reading new events, and events already published (kept for replay)
still validate against the new schema. So, within one topic version, a change must not:

- remove a property (old consumers read it);
- change a property's type (either reader breaks);
- make a property required that was not (old events lack it);
- remove an enum (or const) value (old events carry it);
- tighten additionalProperties (old events may carry the extra properties).

Adding optional properties, enum values and descriptions is fine. A real break needs a new
topic version. Nested objects (properties, items, $defs) are compared recursively.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any] | bool


def breaking_changes(old_schema: Schema, new_schema: Schema) -> list[str]:
    """Every backward-incompatible change from ``old_schema`` to ``new_schema``, one readable
    line each naming the path (``$`` is the event's data), empty when compatible."""
    changes: list[str] = []
    _compare(old_schema, new_schema, "$", changes)
    return changes


def _types(schema: dict[str, Any]) -> frozenset[str] | None:
    declared = schema.get("type")
    if declared is None:
        return None
    return frozenset([declared] if isinstance(declared, str) else declared)


def _show(types: frozenset[str] | None) -> str:
    if types is None:
        return "any"
    return "|".join(sorted(types))


def _allowed_values(schema: dict[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    if "enum" in schema:
        return list(schema["enum"])
    return None


def _closes_extra_properties(old: Any, new: Any) -> bool:
    """additionalProperties: absent/true (anything) > a schema > false (nothing)."""

    def openness(value: Any) -> int:
        if value is None or value is True:
            return 2
        if value is False:
            return 0
        return 1

    return openness(new) < openness(old)


def _compare(old: Schema, new: Schema, path: str, changes: list[str]) -> None:
    if isinstance(old, bool) or isinstance(new, bool):
        if old != new and new is False:
            changes.append(f"{path}: schema became false (nothing validates)")
        return

    old_types, new_types = _types(old), _types(new)
    if old_types != new_types:
        changes.append(f"{path}: type changed from {_show(old_types)} to {_show(new_types)}")

    old_values, new_values = _allowed_values(old), _allowed_values(new)
    if new_values is not None:
        if old_values is None:
            changes.append(f"{path}: values restricted to {new_values!r}")
        else:
            removed = [v for v in old_values if v not in new_values]
            if removed:
                changes.append(f"{path}: enum value(s) removed: {', '.join(map(repr, removed))}")

    old_props: dict[str, Any] = old.get("properties") or {}
    new_props: dict[str, Any] = new.get("properties") or {}
    for name, old_prop in old_props.items():
        if name not in new_props:
            changes.append(f"{path}.{name}: property removed")
        else:
            _compare(old_prop, new_props[name], f"{path}.{name}", changes)

    newly_required = sorted(set(new.get("required") or ()) - set(old.get("required") or ()))
    for name in newly_required:
        changes.append(f"{path}.{name}: became required")

    if _closes_extra_properties(old.get("additionalProperties"), new.get("additionalProperties")):
        changes.append(
            f"{path}: additionalProperties tightened "
            f"({_describe_extra(old.get('additionalProperties'))} -> "
            f"{_describe_extra(new.get('additionalProperties'))})"
        )
    elif isinstance(old.get("additionalProperties"), dict) and isinstance(new.get("additionalProperties"), dict):
        _compare(old["additionalProperties"], new["additionalProperties"], f"{path}.*", changes)

    if "items" in old and "items" in new:
        _compare(old["items"], new["items"], f"{path}[]", changes)
    elif "items" in new:
        changes.append(f"{path}[]: items schema added (old arrays may not match it)")

    old_defs: dict[str, Any] = old.get("$defs") or {}
    new_defs: dict[str, Any] = new.get("$defs") or {}
    for name, old_def in old_defs.items():
        if name not in new_defs:
            changes.append(f"{path}.$defs.{name}: definition removed")
        else:
            _compare(old_def, new_defs[name], f"{path}.$defs.{name}", changes)


def _describe_extra(value: Any) -> str:
    if value is None or value is True:
        return "any allowed"
    if value is False:
        return "none allowed"
    return "a schema"
