"""Working time of the branches: Asia/Almaty (UTC+5), Monday to Friday 09:00-18:00, without
Kazakhstan's public holidays. SLA targets in business hours are counted on this calendar."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ALMATY = ZoneInfo("Asia/Almaty")

# Public holidays (Labour Code art. 84 and the Law on holidays). A secular holiday on a Saturday
# or Sunday moves its day off to the next working day; the religious ones (Orthodox Christmas,
# Kurban Ait) do not. Kurban Ait moves with the lunar calendar, so it is listed per year.
FIXED_HOLIDAYS = (
    (1, 1),
    (1, 2),
    (3, 8),
    (3, 21),
    (3, 22),
    (3, 23),
    (5, 1),
    (5, 7),
    (5, 9),
    (7, 6),
    (8, 30),
    (10, 25),
    (12, 16),
)
RELIGIOUS_FIXED = ((1, 7),)
KURBAN_AIT = {
    2024: date(2024, 6, 16),
    2025: date(2025, 6, 6),
    2026: date(2026, 5, 27),
    2027: date(2027, 5, 16),
    2028: date(2028, 5, 5),
}


@functools.lru_cache(maxsize=32)
def kazakhstan_holidays(year: int) -> frozenset[date]:
    days: set[date] = set()
    for month, day in FIXED_HOLIDAYS:
        holiday = date(year, month, day)
        days.add(holiday)
        if holiday.weekday() >= 5:  # the day off moves to the next working day
            moved = holiday + timedelta(days=1)
            while moved.weekday() >= 5 or moved in days or (moved.month, moved.day) in FIXED_HOLIDAYS:
                moved += timedelta(days=1)
            days.add(moved)
    days.update(date(year, m, d) for m, d in RELIGIOUS_FIXED)
    if year in KURBAN_AIT:
        days.add(KURBAN_AIT[year])
    return frozenset(days)


@dataclass(frozen=True)
class BusinessCalendar:
    timezone: ZoneInfo = ALMATY
    opens: time = time(9, 0)
    closes: time = time(18, 0)
    extra_holidays: frozenset[date] = field(default_factory=frozenset)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in kazakhstan_holidays(day.year) and day not in self.extra_holidays

    def _window(self, day: date) -> tuple[datetime, datetime]:
        return (datetime.combine(day, self.opens, self.timezone), datetime.combine(day, self.closes, self.timezone))

    def add(self, start: datetime, seconds: float) -> datetime:
        """The moment ``seconds`` of working time after ``start`` (UTC)."""
        remaining = timedelta(seconds=max(seconds, 0))
        local = start.astimezone(self.timezone)
        day = local.date()
        for _ in range(3660):  # ten years of days: a target never reaches that far
            if self.is_working_day(day):
                opens, closes = self._window(day)
                begin = max(local, opens)
                if begin < closes:
                    available = closes - begin
                    if remaining <= available:
                        return (begin + remaining).astimezone(UTC)
                    remaining -= available
            day += timedelta(days=1)
            local = datetime.combine(day, time(0), self.timezone)
        raise ValueError("business time target out of range")

    def subtract(self, end: datetime, seconds: float) -> datetime:
        """The earliest moment with ``seconds`` of working time from it to ``end`` (UTC): the
        inverse of ``add``; when that moment falls on a window's opening, the close of the
        working window before it (the time between does not count)."""
        remaining = timedelta(seconds=max(seconds, 0))
        local = end.astimezone(self.timezone)
        day = local.date()
        for _ in range(3660):
            if self.is_working_day(day):
                opens, closes = self._window(day)
                finish = min(local, closes)
                if finish > opens:
                    available = finish - opens
                    if remaining < available:
                        return (finish - remaining).astimezone(UTC)
                    remaining -= available
            day -= timedelta(days=1)
            local = datetime.combine(day, time(23, 59, 59, 999999), self.timezone)
        raise ValueError("business time target out of range")

    def between(self, start: datetime, end: datetime) -> float:
        """Seconds of working time from ``start`` to ``end`` (0 when end is not after start)."""
        if end <= start:
            return 0.0
        total = timedelta()
        local_start, local_end = start.astimezone(self.timezone), end.astimezone(self.timezone)
        day = local_start.date()
        while day <= local_end.date():
            if self.is_working_day(day):
                opens, closes = self._window(day)
                begin, finish = max(opens, local_start), min(closes, local_end)
                if finish > begin:
                    total += finish - begin
            day += timedelta(days=1)
        return total.total_seconds()


class RoundTheClock:
    """Critical tickets: every hour counts."""

    def add(self, start: datetime, seconds: float) -> datetime:
        return start + timedelta(seconds=max(seconds, 0))

    def subtract(self, end: datetime, seconds: float) -> datetime:
        return end - timedelta(seconds=max(seconds, 0))

    def between(self, start: datetime, end: datetime) -> float:
        return max((end - start).total_seconds(), 0.0)


WORKING_CALENDAR = BusinessCalendar()
ROUND_THE_CLOCK = RoundTheClock()
