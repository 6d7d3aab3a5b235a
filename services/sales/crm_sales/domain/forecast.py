"""The sales forecast: the open pipeline weighted by each opportunity's probability, summed per
owner, branch, region or expected close month. Pure arithmetic on rows the use case reads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

NO_MONTH = "none"  # the group of open opportunities without an expected close date


class ForecastGroup(StrEnum):
    OWNER = "owner"
    BRANCH = "branch"
    REGION = "region"
    MONTH = "month"


@dataclass
class ForecastLine:
    key: str
    count: int = 0
    amount_tiyn: int = 0
    # sum of amount x probability, in tiyn-percent: divided by 100 once, at the end, so that
    # rounding never accumulates over many small deals
    weighted_centi: int = field(default=0, repr=False)

    @property
    def weighted_tiyn(self) -> int:
        return self.weighted_centi // 100

    def add(self, count: int, amount_tiyn: int, weighted_centi: int) -> None:
        self.count += count
        self.amount_tiyn += amount_tiyn
        self.weighted_centi += weighted_centi


def month_key(close_date: date | None) -> str:
    """ "2026-12" for a date in December 2026; NO_MONTH without a date."""
    return f"{close_date.year:04d}-{close_date.month:02d}" if close_date else NO_MONTH


def fold(rows: Iterable[tuple[str, int, int, int]]) -> tuple[list[ForecastLine], ForecastLine]:
    """(key, count, amount_tiyn, amount x probability) rows -> one line per key, ordered by key
    (the month without a date last), and the total."""
    lines: dict[str, ForecastLine] = {}
    total = ForecastLine(key="total")
    for key, count, amount, weighted in rows:
        lines.setdefault(key, ForecastLine(key=key)).add(count, amount, weighted)
        total.add(count, amount, weighted)
    ordered = sorted(lines.values(), key=lambda line: (line.key == NO_MONTH, line.key))
    return ordered, total
