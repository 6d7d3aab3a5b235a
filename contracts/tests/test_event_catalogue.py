"""The event catalogue: every topic names an owner, a key and its events; every event type has
a valid draft 2020-12 schema; every schema belongs to a topic; and the checks themselves catch
each kind of mistake."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from crm_contracts import events
from crm_contracts.events import catalogue_problems


def test_the_catalogue_is_sound():
    assert catalogue_problems() == []


def test_every_listed_event_type_resolves_to_its_topic_and_schema():
    for topic in events.topics():
        for event in topic["events"]:
            assert events.topic_of(event["type"]) == topic["name"]
            assert events.schema_for(event["type"])["$id"].startswith(events.dataschema_prefix(event["type"]))


# --- the checks on small catalogues ----------------------------------------------------------

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:qazaq-crm:schema:crm.demo.thing.created:1",
    "type": "object",
    "properties": {"id": {"type": "string"}},
    "required": ["id"],
}
TOPIC = {
    "name": "crm.demo.thing.v1",
    "owner": "demo",
    "key": "thing id",
    "partitions": 3,
    "events": [{"type": "crm.demo.thing.created", "description": "A thing was made."}],
}


def write_catalogue(root: Path, topics: dict[str, object], schemas: dict[str, object]) -> tuple[Path, Path]:
    (root / "topics").mkdir()
    (root / "schemas").mkdir()
    for name, topic in topics.items():
        (root / "topics" / name).write_text(topic if isinstance(topic, str) else yaml.safe_dump(topic))
    for name, schema in schemas.items():
        (root / "schemas" / name).write_text(schema if isinstance(schema, str) else json.dumps(schema))
    return root / "topics", root / "schemas"


def problems_of(tmp_path, topics=None, schemas=None) -> list[str]:
    topics = {"crm.demo.thing.v1.yaml": TOPIC} if topics is None else topics
    schemas = {"crm.demo.thing.created.json": SCHEMA} if schemas is None else schemas
    return catalogue_problems(*write_catalogue(tmp_path, topics, schemas))


def test_a_sound_small_catalogue_has_no_problems(tmp_path):
    assert problems_of(tmp_path) == []


@pytest.mark.parametrize("field", ["name", "owner", "key", "events"])
def test_topic_must_name_owner_key_and_events(tmp_path, field):
    topic = {k: v for k, v in TOPIC.items() if k != field}
    problems = problems_of(tmp_path, topics={"crm.demo.thing.v1.yaml": topic})
    assert f"topics/crm.demo.thing.v1.yaml: missing or empty '{field}'" in problems


def test_topic_owner_must_match_the_topic_name(tmp_path):
    problems = problems_of(tmp_path, topics={"crm.demo.thing.v1.yaml": TOPIC | {"owner": "sales"}})
    assert problems == [
        "topics/crm.demo.thing.v1.yaml: owner 'sales' does not own topic crm.demo.thing.v1 (expected 'demo')"
    ]


def test_topic_file_must_be_named_after_the_topic(tmp_path):
    problems = problems_of(tmp_path, topics={"things.yaml": TOPIC})
    assert problems == ["topics/things.yaml: file must be named crm.demo.thing.v1.yaml"]


def test_topic_name_must_follow_the_convention(tmp_path):
    topic = TOPIC | {"name": "demo-things"}
    assert problems_of(tmp_path, topics={"demo-things.yaml": topic}) == [
        "topics/demo-things.yaml: name 'demo-things' is not crm.<service>.<aggregate>.v<N>",
        "schemas/crm.demo.thing.created.json: no topic file lists event type crm.demo.thing.created",
    ]


def test_event_type_must_belong_to_the_topic_aggregate(tmp_path):
    topic = TOPIC | {"events": TOPIC["events"] + [{"type": "crm.demo.other.created"}]}
    schemas = {
        "crm.demo.thing.created.json": SCHEMA,
        "crm.demo.other.created.json": SCHEMA | {"$id": "urn:qazaq-crm:schema:crm.demo.other.created:1"},
    }
    problems = problems_of(tmp_path, topics={"crm.demo.thing.v1.yaml": topic}, schemas=schemas)
    assert problems == [
        "topics/crm.demo.thing.v1.yaml: event type 'crm.demo.other.created' is not crm.demo.thing.<action>"
    ]


def test_event_type_listed_twice_is_reported(tmp_path):
    topic = TOPIC | {"events": TOPIC["events"] * 2}
    problems = problems_of(tmp_path, topics={"crm.demo.thing.v1.yaml": topic})
    assert problems == [
        "topics/crm.demo.thing.v1.yaml: event type crm.demo.thing.created is already listed in "
        "topics/crm.demo.thing.v1.yaml"
    ]


def test_event_type_without_schema_is_reported(tmp_path):
    problems = problems_of(tmp_path, schemas={})
    assert problems == [
        "topics/crm.demo.thing.v1.yaml: event type crm.demo.thing.created has no schema "
        "(expected schemas/crm.demo.thing.created.json)"
    ]


def test_schema_without_topic_is_reported(tmp_path):
    schemas = {"crm.demo.thing.created.json": SCHEMA, "crm.demo.thing.deleted.json": SCHEMA}
    problems = problems_of(tmp_path, schemas=schemas)
    assert problems == ["schemas/crm.demo.thing.deleted.json: no topic file lists event type crm.demo.thing.deleted"]


def test_invalid_schema_is_reported_with_its_location(tmp_path):
    broken = SCHEMA | {"properties": {"id": {"type": "text"}}}
    [problem] = problems_of(tmp_path, schemas={"crm.demo.thing.created.json": broken})
    assert problem.startswith(
        "topics/crm.demo.thing.v1.yaml: schemas/crm.demo.thing.created.json: "
        "invalid draft 2020-12 schema at properties/id/type"
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"$schema": "http://json-schema.org/draft-07/schema#"},
            "$schema must be https://json-schema.org/draft/2020-12/schema",
        ),
        (
            {"$id": "urn:qazaq-crm:schema:crm.demo.thing.updated:1"},
            "$id must be urn:qazaq-crm:schema:crm.demo.thing.created:<version>",
        ),
        ({"type": "array"}, "the event data must be a JSON object (type: object)"),
    ],
)
def test_schema_must_declare_draft_id_and_object(tmp_path, change, expected):
    problems = problems_of(tmp_path, schemas={"crm.demo.thing.created.json": SCHEMA | change})
    assert problems == [f"topics/crm.demo.thing.v1.yaml: schemas/crm.demo.thing.created.json: {expected}"]


def test_unparseable_files_are_reported(tmp_path):
    problems = problems_of(
        tmp_path, topics={"crm.demo.thing.v1.yaml": "name: [unclosed"}, schemas={"crm.demo.thing.created.json": "{"}
    )
    assert problems[0].startswith("topics/crm.demo.thing.v1.yaml: not valid YAML")
    assert problems[1] == "schemas/crm.demo.thing.created.json: no topic file lists event type crm.demo.thing.created"


def test_validate_rejects_event_data_missing_required_fields():
    with_required = [t for t in events.event_types() if events.schema_for(t).get("required")]
    if not with_required:
        pytest.skip("no event type in the catalogue requires a field yet")
    with pytest.raises(jsonschema.ValidationError, match="is a required property"):
        events.validate(with_required[0], {})
