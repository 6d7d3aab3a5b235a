"""Event contracts: the topic catalogue (topics/<topic>.yaml, one file per topic) and one JSON
Schema per event type (schemas/<type>.json, draft 2020-12). Every event a service emits must
validate here.

A topic file holds: name (crm.<svc>.<aggregate>.v<N>), owner (service), key (what the record
key is), partitions, description, and events: a list of {type, description}; the schema of
each type is schemas/<type>.json, whose $id is the event's dataschema
(urn:qazaq-crm:schema:<type>:<schema version>).

``catalogue_problems()`` checks that all of this holds (contracts/tests run it)."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

HERE = Path(__file__).parent
SCHEMAS = HERE / "schemas"
TOPICS = HERE / "topics"

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
TOPIC_NAME = re.compile(r"^crm\.(?P<owner>[a-z][a-z0-9_]*)\.(?P<aggregate>[a-z][a-z0-9_]*)\.v(?P<version>[1-9][0-9]*)$")
EVENT_TYPE = re.compile(
    r"^crm\.(?P<owner>[a-z][a-z0-9_]*)\.(?P<aggregate>[a-z][a-z0-9_]*)\.(?P<action>[a-z][a-z0-9_]*)$"
)
REQUIRED_TOPIC_FIELDS = ("name", "owner", "key", "events")


def dataschema_prefix(type_: str) -> str:
    return f"urn:qazaq-crm:schema:{type_}:"


@cache
def _load_topics() -> tuple[dict[str, Any], ...]:
    return tuple(yaml.safe_load(p.read_text()) for p in sorted(TOPICS.glob("*.yaml")))


def topics() -> list[dict[str, Any]]:
    return list(_load_topics())


def topic_names() -> list[str]:
    """Every topic of the catalogue, sorted: what a consumer of the whole catalogue subscribes to
    (analytics, webhooks), so that a service's new topic reaches it without code."""
    return sorted(topic["name"] for topic in topics())


def event_types() -> list[str]:
    return [event["type"] for topic in topics() for event in topic["events"]]


def topic_of(type_: str) -> str:
    for topic in topics():
        if any(e["type"] == type_ for e in topic["events"]):
            return topic["name"]
    raise KeyError(f"event type {type_} is not in the catalogue")


def erasure_confirmation_topics() -> dict[str, str]:
    """service -> its erasure topic, for every service that confirms erasures: the owners of a
    topic listing ``crm.<owner>.erasure.confirmed``. This is the one list of the services that
    keep copies of customers' personal data: a service joins erasure by publishing that event
    (sales waits for each of them before it reports an erasure complete)."""
    return {
        topic["owner"]: topic["name"]
        for topic in topics()
        if any(e["type"] == f"crm.{topic['owner']}.erasure.confirmed" for e in topic["events"])
    }


@cache
def schema_for(type_: str) -> dict[str, Any]:
    path = SCHEMAS / f"{type_}.json"
    if not path.exists():
        raise KeyError(f"no schema for event type {type_} (expected {path.name})")
    return json.loads(path.read_text())


@cache
def _validator(type_: str) -> Draft202012Validator:
    return Draft202012Validator(schema_for(type_))


def validate(type_: str, data: dict[str, Any]) -> None:
    """Raises jsonschema.ValidationError when ``data`` does not match the type's schema."""
    _validator(type_).validate(data)


# --- checks of the catalogue itself ---------------------------------------------------------


def catalogue_problems(topics_dir: Path = TOPICS, schemas_dir: Path = SCHEMAS) -> list[str]:
    """Everything wrong with the catalogue, one line each (empty when it is sound):
    every topic file names an owner, a key and its events; every event type has a valid
    draft 2020-12 schema; every schema file belongs to an event type of some topic."""
    problems: list[str] = []
    declared: dict[str, str] = {}  # event type -> topic file
    for path in sorted(topics_dir.glob("*.yaml")):
        problems += _topic_file_problems(path, declared)
    for type_, topic_file in declared.items():
        problems += [f"{topic_file}: {p}" for p in _schema_problems(type_, schemas_dir / f"{type_}.json")]
    for path in sorted(schemas_dir.glob("*.json")):
        if path.stem not in declared:
            problems.append(f"schemas/{path.name}: no topic file lists event type {path.stem}")
    return problems


def _topic_file_problems(path: Path, declared: dict[str, str]) -> list[str]:
    where = f"topics/{path.name}"
    try:
        topic = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        return [f"{where}: not valid YAML ({exc})"]
    if not isinstance(topic, dict):
        return [f"{where}: must be a mapping with {', '.join(REQUIRED_TOPIC_FIELDS)}"]
    problems = [f"{where}: missing or empty {field!r}" for field in REQUIRED_TOPIC_FIELDS if not topic.get(field)]
    if problems:
        return problems

    name = str(topic["name"])
    match = TOPIC_NAME.match(name)
    if not match:
        return [f"{where}: name {name!r} is not crm.<service>.<aggregate>.v<N>"]
    if path.name != f"{name}.yaml":
        problems.append(f"{where}: file must be named {name}.yaml")
    if topic["owner"] != match["owner"]:
        problems.append(f"{where}: owner {topic['owner']!r} does not own topic {name} (expected {match['owner']!r})")
    if "partitions" in topic and (not isinstance(topic["partitions"], int) or topic["partitions"] < 1):
        problems.append(f"{where}: partitions must be a positive integer")
    if not isinstance(topic["events"], list):
        return problems + [f"{where}: events must be a list of {{type, description}}"]

    for index, event in enumerate(topic["events"]):
        type_ = event.get("type") if isinstance(event, dict) else None
        if not type_:
            problems.append(f"{where}: events[{index}] has no type")
            continue
        type_match = EVENT_TYPE.match(type_)
        if not type_match or (type_match["owner"], type_match["aggregate"]) != (match["owner"], match["aggregate"]):
            problems.append(f"{where}: event type {type_!r} is not crm.{match['owner']}.{match['aggregate']}.<action>")
        if type_ in declared:
            problems.append(f"{where}: event type {type_} is already listed in {declared[type_]}")
            continue
        declared[type_] = where
    return problems


def _schema_problems(type_: str, path: Path) -> list[str]:
    if not path.exists():
        return [f"event type {type_} has no schema (expected schemas/{path.name})"]
    try:
        schema = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        return [f"schemas/{path.name} is not valid JSON ({exc})"]
    if not isinstance(schema, dict):
        return [f"schemas/{path.name} must be a JSON object"]
    problems = []
    if schema.get("$schema") != DRAFT_2020_12:
        problems.append(f"schemas/{path.name}: $schema must be {DRAFT_2020_12}")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        path_in_schema = "/".join(map(str, exc.path)) or "(root)"
        problems.append(f"schemas/{path.name}: invalid draft 2020-12 schema at {path_in_schema}: {exc.message}")
    if not str(schema.get("$id", "")).startswith(dataschema_prefix(type_)):
        problems.append(f"schemas/{path.name}: $id must be {dataschema_prefix(type_)}<version>")
    if schema.get("type") != "object":
        problems.append(f"schemas/{path.name}: the event data must be a JSON object (type: object)")
    return problems
