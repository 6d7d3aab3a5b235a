"""CloudEvents 1.0 envelope, carried over Kafka in binary content mode.

The Kafka value is the event's ``data`` as JSON; the attributes travel as ``ce_*`` headers,
next to ``ce_region``/``ce_branch`` extensions and the W3C ``traceparent``/``tracestate``.
The record key is the aggregate id (the CloudEvents ``subject``), so each entity's events stay
in order on one partition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
_ATTRS = ("id", "source", "type", "subject", "time", "dataschema", "region", "branch")
_FIXED_HEADERS = (("ce_specversion", SPECVERSION.encode()), ("content-type", CONTENT_TYPE.encode()))
# Sources, types, schemas, regions and branches repeat from event to event: each is encoded once
# (the relay builds these headers for every record it sends). Bounded: cleared when it fills.
_ENCODED: dict[str, bytes] = {}
_ENCODED_MAX = 4096


def _encoded(value: str) -> bytes:
    encoded = _ENCODED.get(value)
    if encoded is None:
        if len(_ENCODED) >= _ENCODED_MAX:
            _ENCODED.clear()
        encoded = _ENCODED[value] = value.encode()
    return encoded


def kafka_headers(
    *,
    id: str,
    source: str,
    type: str,
    subject: str,
    time: datetime,
    dataschema: str | None,
    region: str | None,
    branch: str | None,
    trace_headers: Mapping[str, str],
) -> list[tuple[str, bytes]]:
    """The binary-mode headers of one event (``CloudEvent.kafka_headers``, without building one)."""
    headers = [
        *_FIXED_HEADERS,
        ("ce_id", id.encode()),
        ("ce_source", _encoded(source)),
        ("ce_type", _encoded(type)),
        ("ce_subject", subject.encode()),
        ("ce_time", time.astimezone(UTC).isoformat().replace("+00:00", "Z").encode()),
    ]
    if dataschema is not None:
        headers.append(("ce_dataschema", _encoded(dataschema)))
    if region is not None:
        headers.append(("ce_region", _encoded(region)))
    if branch is not None:
        headers.append(("ce_branch", _encoded(branch)))
    headers.extend((k, v.encode()) for k, v in trace_headers.items())
    return headers


@dataclass
class CloudEvent:
    id: str
    source: str
    type: str
    subject: str
    data: dict[str, Any]
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    dataschema: str | None = None
    region: str | None = None
    branch: str | None = None
    trace_headers: dict[str, str] = field(default_factory=dict)  # traceparent / tracestate

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        return kafka_headers(
            id=self.id,
            source=self.source,
            type=self.type,
            subject=self.subject,
            time=self.time,
            dataschema=self.dataschema,
            region=self.region,
            branch=self.branch,
            trace_headers=self.trace_headers,
        )

    def kafka_value(self) -> bytes:
        return orjson.dumps(self.data)

    def kafka_key(self) -> bytes:
        return self.subject.encode()

    @classmethod
    def from_kafka(cls, headers: list[tuple[str, bytes]] | None, value: bytes | None) -> CloudEvent:
        h = {k: v.decode() for k, v in (headers or [])}
        missing = [a for a in ("id", "source", "type", "subject") if f"ce_{a}" not in h]
        if missing:
            raise ValueError(f"not a CloudEvent: missing headers {missing}")
        time_raw = h.get("ce_time")
        return cls(
            id=h["ce_id"],
            source=h["ce_source"],
            type=h["ce_type"],
            subject=h["ce_subject"],
            data=orjson.loads(value) if value else {},
            time=datetime.fromisoformat(time_raw.replace("Z", "+00:00")) if time_raw else datetime.now(UTC),
            dataschema=h.get("ce_dataschema"),
            region=h.get("ce_region"),
            branch=h.get("ce_branch"),
            trace_headers={k: h[k] for k in ("traceparent", "tracestate") if k in h},
        )

    def as_dict(self) -> dict[str, Any]:
        """The structured-mode JSON form (for logs, replay tools and schema tests)."""
        out = {"specversion": SPECVERSION, "datacontenttype": CONTENT_TYPE}
        for attr in _ATTRS:
            value = getattr(self, attr)
            if value is not None:
                out[attr] = value.isoformat() if isinstance(value, datetime) else value
        out["data"] = self.data
        return out
