"""CloudEvents 1.0 envelope, carried over Kafka in binary content mode.

The Kafka value is the event's ``data`` as JSON; the attributes travel as ``ce_*`` headers,
next to ``ce_region``/``ce_branch`` extensions and the W3C ``traceparent``/``tracestate``.
The record key is the aggregate id (the CloudEvents ``subject``), so each entity's events stay
in order on one partition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
_ATTRS = ("id", "source", "type", "subject", "time", "dataschema", "region", "branch")


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
        headers = [("ce_specversion", SPECVERSION.encode()), ("content-type", CONTENT_TYPE.encode())]
        for attr in _ATTRS:
            value = getattr(self, attr)
            if value is None:
                continue
            if isinstance(value, datetime):
                value = value.astimezone(UTC).isoformat().replace("+00:00", "Z")
            headers.append((f"ce_{attr}", str(value).encode()))
        headers.extend((k, v.encode()) for k, v in self.trace_headers.items())
        return headers

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
