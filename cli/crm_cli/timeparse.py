"""`--since` values: an ISO time (UTC unless it carries an offset) or a relative age like 2h, 90m, 1d12h."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_RELATIVE = re.compile(r"^(?:\d+[smhdw])+$")
_PART = re.compile(r"(\d+)([smhdw])")


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """A timezone-aware UTC datetime; ValueError with a readable message otherwise."""
    text = value.strip().lower().replace(" ", "")
    now = now or datetime.now(UTC)
    if _RELATIVE.match(text):
        delta = timedelta()
        for amount, unit in _PART.findall(text):
            delta += timedelta(**{UNITS[unit]: int(amount)})
        return now - delta
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            f"{value!r} is neither an ISO time (2026-11-01T00:00) nor a relative age (30m, 2h, 1d, 1d12h)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
