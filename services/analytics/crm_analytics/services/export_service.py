"""Exports: a chart's table as CSV, and the monthly report of a region as an XLSX workbook (a
summary sheet, then one sheet per chart)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crm_shared.auth import Principal, Role
from crm_shared.domain import InvalidField

from ..access import visible_filters
from ..db.store import RECORDS, EventStore, literal
from ..domain.dashboards import CHARTS, filters
from . import dashboard_service


def csv_text(table: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table["columns"])
    writer.writerows(table["rows"])
    return out.getvalue()


def month_bounds(month: str) -> tuple[datetime, datetime]:
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidField("month", "must be YYYY-MM") from None
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return start, end


async def monthly_report(
    store: EventStore, principal: Principal, month: str, region_code: str | None
) -> tuple[bytes, str]:
    from openpyxl import Workbook

    start, end = month_bounds(month)
    f = visible_filters(principal, filters(start, end, region_code, None, None, end))
    sections = await dashboard_service.overview(store, f)
    book = Workbook()
    summary = book.active
    summary.title = "summary"
    summary.append(["month", month])
    summary.append(["region_code", f.region_code or "all"])
    for section, figures in sections.items():
        for name, value in figures.items():
            if name != "charts":
                summary.append([f"{section}.{name}", value])
    for name in CHARTS:
        table = sections[CHARTS[name]]["charts"][name]
        sheet = book.create_sheet(name[:31])
        sheet.append(table["columns"])
        for row in table["rows"]:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), f"analytics-{f.region_code or 'KZ'}-{month}.xlsx"


# The scheduled reports are made for head office: the whole country's store, region by region.
SCHEDULER = Principal("analytics:monthly-reports", "analytics", Role.SYSTEM)


def previous_month(now: datetime) -> str:
    first = now.astimezone(UTC).replace(day=1)
    return (
        first.replace(year=first.year - 1, month=12) if first.month == 1 else first.replace(month=first.month - 1)
    ).strftime("%Y-%m")


async def write_monthly_reports(store: EventStore, directory: Path, month: str) -> list[Path]:
    """The monthly report of every region with records created that month, written once each as
    ``<directory>/<month>/analytics-<region>-<month>.xlsx``; returns the files written now."""
    start, end = month_bounds(month)
    _, rows = await store.query(
        f"SELECT DISTINCT region_code FROM {store.table(RECORDS)} WHERE region_code != '' "
        f"AND created_at >= toDateTime64({literal(start.strftime('%Y-%m-%d %H:%M:%S'))}, 3, 'UTC') "
        f"AND created_at < toDateTime64({literal(end.strftime('%Y-%m-%d %H:%M:%S'))}, 3, 'UTC') ORDER BY region_code"
    )
    folder = directory / month
    written = []
    for (region,) in rows:
        target = folder / f"analytics-{region}-{month}.xlsx"
        if target.exists():
            continue
        content, _ = await monthly_report(store, SCHEDULER, month, region)
        folder.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        partial.write_bytes(content)
        partial.replace(target)
        written.append(target)
    return written
