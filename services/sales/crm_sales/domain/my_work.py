"""Due work: where a task's due time falls for the person it is assigned to (overdue, due today,
upcoming), counted on the Kazakhstan calendar (one time zone, UTC+5, since March 2024)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone
from enum import StrEnum

KAZAKHSTAN = timezone(timedelta(hours=5))


class Due(StrEnum):
    OVERDUE = "overdue"  # due before now and not done
    TODAY = "today"  # due from now to the end of today
    UPCOMING = "upcoming"  # due after today


def end_of_today(now: datetime) -> datetime:
    """The first instant of tomorrow in Kazakhstan (UTC-aware)."""
    local = now.astimezone(KAZAKHSTAN)
    return datetime.combine(local.date() + timedelta(days=1), time(0), KAZAKHSTAN).astimezone(UTC)


def due_window(due: Due, now: datetime) -> tuple[datetime | None, datetime | None]:
    """[start, end) of the due times in ``due`` at ``now`` (None: open-ended)."""
    if due is Due.OVERDUE:
        return None, now
    if due is Due.TODAY:
        return now, end_of_today(now)
    return end_of_today(now), None


def due_of(due_at: datetime, now: datetime) -> Due:
    if due_at < now:
        return Due.OVERDUE
    return Due.TODAY if due_at < end_of_today(now) else Due.UPCOMING
