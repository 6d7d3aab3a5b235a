"""Event contracts: the topic catalogue (topics/<topic>.yaml, one file per topic) and one JSON
Schema per event type (schemas/<type>.json, draft 2020-12). Every event a service emits must
validate here.

A topic file holds: name (crm.<svc>.<aggregate>.v<N>), owner (service), key (what the record
key is), partitions, description, and events: a list of {type, description}; the schema of
each type is schemas/<type>.json."""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

HERE = Path(__file__).parent
SCHEMAS = HERE / "schemas"


TOPICS = HERE / "topics"


@cache
def _load_topics() -> tuple[dict[str, Any], ...]:
    return tuple(yaml.safe_load(p.read_text()) for p in sorted(TOPICS.glob("*.yaml")))


def topics() -> list[dict[str, Any]]:
    return list(_load_topics())


def topic_of(type_: str) -> str:
    for topic in topics():
        if any(e["type"] == type_ for e in topic["events"]):
            return topic["name"]
    raise KeyError(f"event type {type_} is not in the catalogue")


@cache
def schema_for(type_: str) -> dict[str, Any]:
    path = SCHEMAS / f"{type_}.json"
    if not path.exists():
        raise KeyError(f"no schema for event type {type_} (expected {path.name})")
    return json.loads(path.read_text())


def validate(type_: str, data: dict[str, Any]) -> None:
    """Raises jsonschema.ValidationError when ``data`` does not match the type's schema."""
    Draft202012Validator(schema_for(type_)).validate(data)
