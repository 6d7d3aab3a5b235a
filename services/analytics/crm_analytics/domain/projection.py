"""What of an event reaches the analytics store: an allow-listed projection, the same for every
topic of the catalogue (no code per topic). Ids become opaque keys, the customer a pseudonymous
key; names, IIN/BIN, phones, e-mails, addresses and free texts never pass, because only the
fields named here are read at all."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

ERASED_CUSTOMER_KEY = "erased"
# The state of a record, whatever the aggregate calls it (tickets: status, orders: state, opportunities: stage).
STATE_FIELDS = ("status", "state", "stage")
# Plain codes, copied when they are short strings: never free text, never a person's data.
CODE_FIELDS = ("region_code", "branch_code", "kind", "source", "channel", "category", "priority", "severity")
TIME_FIELDS = ("created_at", "resolved_at", "closed_at", "terminated_at", "completed_at")
MAX_CODE = 64

COLUMNS: tuple[tuple[str, str], ...] = (
    ("event_key", "String"),
    ("event_type", "LowCardinality(String)"),
    ("topic", "LowCardinality(String)"),
    ("aggregate", "LowCardinality(String)"),
    ("record_key", "String"),
    ("record_version", "Int64"),
    ("occurred_at", "DateTime64(3, 'UTC')"),
    ("created_at", "DateTime64(3, 'UTC')"),
    ("resolved_at", "Nullable(DateTime64(3, 'UTC'))"),
    ("closed_at", "Nullable(DateTime64(3, 'UTC'))"),
    ("terminated_at", "Nullable(DateTime64(3, 'UTC'))"),
    ("completed_at", "Nullable(DateTime64(3, 'UTC'))"),
    ("region_code", "LowCardinality(String)"),
    ("branch_code", "LowCardinality(String)"),
    ("product_line", "LowCardinality(String)"),
    ("offering_id", "LowCardinality(String)"),
    ("customer_key", "String"),
    ("state", "LowCardinality(String)"),
    ("kind", "LowCardinality(String)"),
    ("source", "LowCardinality(String)"),
    ("channel", "LowCardinality(String)"),
    ("category", "LowCardinality(String)"),
    ("priority", "LowCardinality(String)"),
    ("severity", "LowCardinality(String)"),
    ("sla_state", "LowCardinality(String)"),
    ("amount_tiyn", "Int64"),
    ("one_off_tiyn", "Int64"),
    ("recurring_tiyn", "Int64"),
    ("rating_score", "UInt8"),  # a customer's rating of a resolved ticket, 1-5 (CSAT); 0: not rated
)
COLUMN_NAMES = tuple(name for name, _ in COLUMNS)
# Columns added after stores were first made: a store made before gets them (db/store.py).
COLUMNS_ADDED_LATER = ("rating_score",)


def opaque_key(value: str) -> str:
    """A stable key for an id (24 characters of base32, letters and the digits 2-7): the store
    never holds the services' ids, and no key looks like an identifier or a phone number."""
    return base64.b32encode(hashlib.sha256(value.encode()).digest()[:15]).decode().lower()


def customer_key(salt: str | None, customer_id: str) -> str:
    """HMAC of the customer id under the customer's own random salt; without a salt (erased) the
    one shared erased key."""
    if not salt:
        return ERASED_CUSTOMER_KEY
    digest = hmac.new(bytes.fromhex(salt), customer_id.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:15]).decode().lower()


@dataclass(frozen=True)
class Parsed:
    """What the projection needs of one event, taken from its envelope."""

    event_id: str
    event_type: str
    topic: str
    time: datetime
    data: dict[str, Any]
    region: str | None = None  # the envelope's, when the payload has none
    branch: str | None = None


def customer_of(event: Parsed) -> str | None:
    """The customer an event is about: its customer_id, or the record's own id for customer events."""
    data = event.data
    if _aggregate(event.event_type) == "customer" and event.event_type.startswith("crm.sales."):
        value = data.get("id")
    else:
        value = data.get("customer_id")
    return value if isinstance(value, str) and value else None


def project(event: Parsed, customer: str) -> dict[str, Any]:
    """The row of ``event`` in the store; ``customer`` is its pseudonymous customer key ("" for
    events about no customer)."""
    data = event.data if isinstance(event.data, dict) else {}
    record_id = data.get("id") if isinstance(data.get("id"), str) else event.event_id
    row: dict[str, Any] = {
        "event_key": opaque_key(event.event_id),
        "event_type": event.event_type,
        "topic": event.topic,
        "aggregate": _aggregate(event.event_type),
        "record_key": opaque_key(f"{event.topic}/{record_id}"),
        "record_version": _integer(data.get("version")),
        "occurred_at": _clickhouse_time(event.time),
        "region_code": _code(data.get("region_code") or event.region),
        "branch_code": _code(data.get("branch_code") or event.branch),
        "product_line": _product_line(data),
        "offering_id": _code(data.get("offering_id")),
        "customer_key": customer,
        "state": next((_code(data[f]) for f in STATE_FIELDS if isinstance(data.get(f), str)), ""),
        "sla_state": _code(
            (data.get("sla") or {}).get("resolution_state") if isinstance(data.get("sla"), dict) else None
        ),
        "amount_tiyn": _integer(data.get("amount_tiyn")),
        "one_off_tiyn": _integer(data.get("one_off_total_tiyn")),
        "recurring_tiyn": _integer(data.get("recurring_total_tiyn", data.get("recurring_price_tiyn"))),
        "rating_score": _rating_score(data.get("rating")),
    }
    for field in CODE_FIELDS[2:]:
        row[field] = _code(data.get(field))
    created = _time(data.get("created_at")) or _time(data.get("activated_at")) or event.time
    row["created_at"] = _clickhouse_time(created)
    for field in TIME_FIELDS[1:]:
        moment = _time(data.get(field))
        row[field] = _clickhouse_time(moment) if moment else None
    return row


def _rating_score(rating: Any) -> int:
    """The score of a ticket's rating (never its comment, which is free text); 0 when not rated."""
    score = rating.get("score") if isinstance(rating, dict) else None
    return score if isinstance(score, int) and not isinstance(score, bool) and 1 <= score <= 5 else 0


def _aggregate(event_type: str) -> str:
    parts = event_type.split(".")
    return parts[2] if len(parts) >= 4 else ""


def _product_line(data: dict[str, Any]) -> str:
    line = data.get("product_line") or data.get("interest")
    if not line and isinstance(data.get("items"), list):
        lines = {item.get("product_line") for item in data["items"] if isinstance(item, dict)} - {None, ""}
        line = lines.pop() if len(lines) == 1 else ("bundle" if lines else None)
    return _code(line)


def _code(value: Any) -> str:
    """A code as it is; anything that is not a short code without digit runs is dropped."""
    if not isinstance(value, str) or len(value) > MAX_CODE or " " in value:
        return ""
    return value if not _has_digit_run(value) else ""


def _has_digit_run(value: str, limit: int = 6) -> bool:
    run = 0
    for char in value:
        run = run + 1 if char.isdigit() else 0
        if run >= limit:
            return True
    return False


def _integer(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _clickhouse_time(moment: datetime) -> str:
    # isoformat, not strftime: a few times faster, and it runs several times per ingested event
    return moment.astimezone(UTC).isoformat(sep=" ", timespec="milliseconds")[:-6]  # without "+00:00"


# A customer merged away or erased never comes back: its state row outranks any version.
FINAL_VERSION = 2**62
CUSTOMER_TOPIC = "crm.sales.customer.v1"


def retired_customers(event: Parsed) -> dict[str, str]:
    """customer id -> the state it is left in, for the events that end a customer without
    carrying its state: an erasure (every id the person had) and a merge (the duplicate)."""
    data = event.data
    if event.event_type == "crm.sales.customer.erased":
        ids = [data.get("customer_id"), *(data.get("customer_ids") or ())]
        return {str(i): "erased" for i in ids if i}
    if event.event_type == "crm.sales.customer.merged":
        duplicate = data.get("duplicate_id")
        retired = {str(duplicate): "merged"} if duplicate else {}
        if data.get("status") == "merged" and data.get("id"):
            retired[str(data["id"])] = "merged"
        return retired
    return {}


def merge_of(event: Parsed) -> tuple[str, str] | None:
    """(duplicate id, survivor id) of a merge event (crm.sales.customer.merged: the survivor's
    state, naming the duplicate), None for any other event."""
    if event.event_type != "crm.sales.customer.merged":
        return None
    duplicate, survivor = event.data.get("duplicate_id"), event.data.get("survivor_id") or event.data.get("id")
    if not duplicate or not survivor or duplicate == survivor:
        return None
    return str(duplicate), str(survivor)


def retired_row(latest: dict[str, Any], state: str, event: Parsed) -> dict[str, Any]:
    """The customer's latest row again, in its final state (same record and partition)."""
    row = dict(latest)
    row.update(
        event_key=opaque_key(f"{event.event_id}/{latest['record_key']}"),
        event_type=event.event_type,
        state=state,
        record_version=FINAL_VERSION,
        occurred_at=_clickhouse_time(event.time),
    )
    for name, kind in COLUMNS:
        if kind in ("Int64",) and row.get(name) is not None:
            row[name] = int(row[name])
    return row


def customer_record_key(customer_id: str) -> str:
    return opaque_key(f"{CUSTOMER_TOPIC}/{customer_id}")
