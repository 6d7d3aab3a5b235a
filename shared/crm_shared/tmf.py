"""What every TM Forum facade shares (TMF630 REST guidelines), so that each one accepts what
real TMF clients send:

- ``vocabulary(api, attribute)``: a string the TMF specification leaves free (severity,
  priority, ticketType, channel.name, ...) is read case-insensitively and mapped onto the CRM's
  own value by a configurable table (``tmf_vocabulary.yaml``, overridden by the YAML file named
  in ``CRM_TMF_VOCABULARY_FILE``), with a default bucket for unknown values; never refused for
  its casing. The value as the client sent it is kept (``TmfOriginalValue`` rows) and shown back.
- ``select_fields``: the ``fields`` query parameter (first-level attributes; id, href, @type,
  @baseType and @schemaLocation always).
- ``paged``: ``X-Total-Count`` / ``X-Result-Count`` and ``206 Partial Content`` when a page holds
  only part of the results.
- ``resource_meta``: ``@type`` / ``@baseType`` / ``@schemaLocation``; ``schema_router`` serves the
  JSON schema that ``@schemaLocation`` points at, so that every href resolves.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from .api import CurrentPrincipal
from .errors import field_problem, not_found

VOCABULARY_FILE = Path(__file__).with_name("tmf_vocabulary.yaml")
VOCABULARY_OVERRIDE_ENV = "CRM_TMF_VOCABULARY_FILE"
MAX_FREE_STRING = 100
ALWAYS_SHOWN = ("id", "href", "@type", "@baseType", "@schemaLocation")
_IGNORED = re.compile(r"[\s_\-.]+")


def fold(value: str) -> str:
    """The comparison key of a free string: case, spaces, '-', '_' and '.' ignored."""
    return _IGNORED.sub("", value).casefold()


@dataclass(frozen=True)
class Vocabulary:
    """One free TMF attribute: TMF value (folded) -> the CRM's value, and the default bucket."""

    api: str
    attribute: str
    default: str
    values: Mapping[str, str] = field(default_factory=dict)

    def to_internal(self, value: str) -> str:
        return self.values.get(fold(value), self.default)

    def knows(self, value: str) -> bool:
        return fold(value) in self.values

    def matching(self, value: str) -> list[str]:
        """Filter values: every CRM value one comma-separated TMF filter value stands for."""
        return sorted({self.to_internal(part) for part in value.split(",") if part.strip()})

    def read(self, value: Any, field_name: str | None = None) -> str:
        """A client's value as the CRM's value; only a non-string or an over-long one is refused."""
        name = field_name or self.attribute
        if not isinstance(value, str) or not value.strip():
            raise field_problem(name, "a non-empty string")
        if len(value) > MAX_FREE_STRING:
            raise field_problem(name, f"at most {MAX_FREE_STRING} characters")
        return self.to_internal(value)


def _load(path: Path) -> dict[str, dict[str, dict[str, Any]]]:
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(document, dict):
        raise ValueError(f"{path}: a mapping of API -> attribute -> {{default, values}}")
    return document


@cache
def _vocabularies(override: str | None) -> dict[tuple[str, str], Vocabulary]:
    document = _load(VOCABULARY_FILE)
    if override:
        for api, attributes in _load(Path(override)).items():
            for attribute, entry in (attributes or {}).items():
                base = document.setdefault(api, {}).setdefault(attribute, {"values": {}})
                base["values"] = {**(base.get("values") or {}), **(entry.get("values") or {})}
                if "default" in entry:
                    base["default"] = entry["default"]
    table = {}
    for api, attributes in document.items():
        for attribute, entry in attributes.items():
            values = {fold(str(k)): str(v) for k, v in (entry.get("values") or {}).items()}
            if "default" not in entry:
                raise ValueError(f"TMF vocabulary {api}.{attribute}: no default bucket")
            table[(api, attribute)] = Vocabulary(api, attribute, str(entry["default"]), values)
    return table


def vocabulary(api: str, attribute: str) -> Vocabulary:
    return _vocabularies(os.environ.get(VOCABULARY_OVERRIDE_ENV) or None)[(api, attribute)]


def shown(original: str | None, internal: str, to_tmf: Mapping[str, str] | None = None) -> str:
    """What the TMF view shows: the client's own value when it sent one, else the CRM's value
    (renamed for TMF when ``to_tmf`` says so)."""
    if original is not None:
        return original
    return (to_tmf or {}).get(internal, internal)


# The client's own value of a free attribute, per record (a table in each facade's database).


class TmfOriginalValueMixin:
    """Mix into the service's declarative base: ``class TmfOriginalValue(Base, TmfOriginalValueMixin)``;
    the table comes from ``crm_shared.tmf_schema.create_tmf_original_values_v1`` in a migration."""

    __tablename__ = "tmf_original_values"

    record_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    attribute: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(MAX_FREE_STRING))


async def keep_originals(session: AsyncSession, model: type, record_id: str, values: Mapping[str, str | None]) -> None:
    """Remember the client's own values of a record's free attributes (None: leave as it was)."""
    for attribute, value in values.items():
        if value is None:
            continue
        row = await session.get(model, (record_id, attribute))
        if row is None:
            session.add(model(record_id=record_id, attribute=attribute, value=value))
        else:
            row.value = value


async def originals_of(session: AsyncSession, model: type, record_ids: Iterable[str]) -> dict[str, dict[str, str]]:
    ids = list(record_ids)
    if not ids:
        return {}
    rows = (await session.execute(select(model).where(model.record_id.in_(ids)))).scalars()
    found: dict[str, dict[str, str]] = {}
    for row in rows:
        found.setdefault(row.record_id, {})[row.attribute] = row.value
    return found


# TMF630 conventions


def resource_meta(type_: str, base_type: str, schema_base: str) -> dict[str, str]:
    return {"@type": type_, "@baseType": base_type, "@schemaLocation": f"{schema_base}/schema/{type_}.json"}


def attributes_of(model: type[BaseModel]) -> set[str]:
    return {f.alias or name for name, f in model.model_fields.items()}


def select_fields(resource: dict[str, Any], fields: str | None, known: set[str] | type[BaseModel]) -> dict[str, Any]:
    """TMF630 ``fields``: the named first-level attributes, plus id, href, @type, @baseType and
    @schemaLocation always; an attribute the resource does not have is a 400 naming ``fields``."""
    if not fields:
        return resource
    names = known if isinstance(known, set) else attributes_of(known)
    wanted = {f.strip() for f in fields.split(",") if f.strip()}
    unknown = sorted(wanted - names - set(ALWAYS_SHOWN))
    if unknown:
        raise field_problem("fields", f"unknown attribute {', '.join(unknown)[:200]}", 400)
    wanted |= set(ALWAYS_SHOWN)
    return {k: v for k, v in resource.items() if k in wanted}


def page_headers(total: int, offset: int, shown_count: int) -> dict[str, str]:
    return {"X-Total-Count": str(total), "X-Result-Count": str(shown_count)}


def partial(total: int, offset: int, shown_count: int) -> bool:
    """TMF630: 206 Partial Content when the page holds only part of the results."""
    return offset > 0 or offset + shown_count < total


def paged(items: list[Any], total: int, offset: int) -> JSONResponse:
    """A list answer: 200 with every result, 206 with a part; the counts in the headers."""
    return JSONResponse(
        items,
        status_code=206 if partial(total, offset, len(items)) else 200,
        headers=page_headers(total, offset, len(items)),
    )


def schema_router(schema_base: str, models: Mapping[str, type[BaseModel]], tag: str) -> APIRouter:
    """``GET {schema_base}/schema/{Type}.json``: the JSON schema an ``@schemaLocation`` names."""
    router = APIRouter(tags=[tag])

    @router.get(f"{schema_base}/schema/{{type_name}}.json", summary="JSON schema of one resource type")
    async def resource_schema(type_name: str, principal: CurrentPrincipal) -> JSONResponse:
        model = models.get(type_name)
        if model is None:
            raise not_found("schema", type_name[:64])
        return JSONResponse(model.model_json_schema(by_alias=True))

    return router
