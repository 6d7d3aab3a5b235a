"""How times are written in API answers and event payloads, everywhere alike."""

from __future__ import annotations

from datetime import UTC, date, datetime


def iso(value: datetime | date | None) -> str | None:
    """A datetime as UTC ISO 8601 with ``Z`` (whatever zone it came in with); a date as YYYY-MM-DD."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:  # SQLite hands back naive values of UTC columns
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value.isoformat()
