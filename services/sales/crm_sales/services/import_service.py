"""Customer CSV import: the dry run's report of what an import would do with each row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.auth import Principal
from crm_shared.errors import Problem

from ..access import require_customer_writer
from ..db.models import Customer
from .customer_service import NewCustomer, NewIndividual, placement


@dataclass
class ImportReport:
    rows: int = 0
    new: int = 0  # would be registered
    existing: int = 0  # already registered (by IIN/BIN): an import leaves them as they are
    errors: list[dict[str, Any]] = field(default_factory=list)  # {line, field, message}

    def refuse(self, line: int, field_name: str, message: str) -> None:
        self.errors.append({"line": line, "field": field_name, "message": message})


async def check_rows(
    session: AsyncSession, principal: Principal, report: ImportReport, rows: Sequence[tuple[int, NewCustomer]]
) -> ImportReport:
    """Rows the create rules accepted (``report`` holds the others' errors already): placed in a
    branch the caller may write to, not twice in the file; counted as new or already registered."""
    require_customer_writer(principal)
    tax_ids = [_tax_id(new) for _, new in rows]
    existing = set(await session.scalars(select(Customer.tax_id).where(Customer.tax_id.in_(tax_ids))))
    placements: dict[str | None, Problem | None] = {}
    first_line: dict[str, int] = {}
    for line, new in rows:
        if new.branch_code not in placements:
            try:
                await placement(session, principal, new.branch_code)
                placements[new.branch_code] = None
            except Problem as problem:
                placements[new.branch_code] = problem
        refusal = placements[new.branch_code]
        if refusal is not None:
            error = (refusal.errors or [{"field": "branch_code", "message": refusal.detail}])[0]
            report.refuse(line, error["field"], error["message"])
            continue
        tax_id = _tax_id(new)
        if tax_id in first_line:
            field_name = "iin" if isinstance(new, NewIndividual) else "bin"
            report.refuse(line, field_name, f"the same as on line {first_line[tax_id]}")
            continue
        first_line[tax_id] = line
        if tax_id in existing:
            report.existing += 1
        else:
            report.new += 1
    report.errors.sort(key=lambda error: error["line"])
    return report


def _tax_id(new: NewCustomer) -> str:
    return new.iin if isinstance(new, NewIndividual) else new.bin
