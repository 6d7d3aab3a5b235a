"""The dashboard filters and the charts behind the dashboards: pure rules, no store."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from crm_shared.domain import InvalidField

PRODUCT_LINES = ("internet", "tv", "mobile", "fixed_line", "bundle")
MAX_PERIOD = timedelta(days=3660)
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")

# chart name -> the section of the overview it belongs to
CHARTS: dict[str, str] = {
    "customers_by_region": "customers",
    "customers_by_kind": "customers",
    "customers_over_time": "customers",
    "pipeline_by_stage": "pipeline",
    "won_lost_by_region": "pipeline",
    "leads_by_source": "pipeline",
    "revenue_by_product_line": "orders_revenue",
    "revenue_by_region": "orders_revenue",
    "orders_by_state": "orders_revenue",
    "installed_base_by_product_line": "installed_base",
    "tickets_by_region": "tickets",
    "tickets_by_category": "tickets",
    "campaign_events": "campaigns",
    "partner_events": "partners",
}


@dataclass(frozen=True)
class Filters:
    """The period [start, end) and the optional region, branch and product line."""

    start: datetime
    end: datetime
    region_code: str | None = None
    branch_code: str | None = None
    product_line: str | None = None

    def in_region(self, region_code: str) -> Filters:
        return replace(self, region_code=region_code)


def filters(
    start: datetime | None,
    end: datetime | None,
    region_code: str | None,
    branch_code: str | None,
    product_line: str | None,
    now: datetime,
) -> Filters:
    """The filters of a request; the default period is the last 30 days up to now."""
    end = _utc(end) if end else now
    start = _utc(start) if start else end - timedelta(days=30)
    if start >= end:
        raise InvalidField("from", "must be before 'to'")
    if end - start > MAX_PERIOD:
        raise InvalidField("from", "the period is at most ten years")
    for field, value in (("region_code", region_code), ("branch_code", branch_code)):
        if value is not None and not _CODE.match(value):
            raise InvalidField(field, "is not a code")
    if product_line is not None and product_line not in PRODUCT_LINES:
        raise InvalidField("product_line", f"must be one of {', '.join(PRODUCT_LINES)}")
    return Filters(start, end, region_code, branch_code, product_line)


def chart_section(name: str) -> str:
    if name not in CHARTS:
        raise InvalidField("chart", f"unknown chart; one of {', '.join(CHARTS)}")
    return CHARTS[name]


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
