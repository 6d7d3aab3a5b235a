"""The forecast of the open pipeline: amount and weighted amount (amount x probability) per owner,
branch, region or expected close month. An aggregate without personal data: managers read their
own branch or region, analysts and admins the whole country; owners (people) are grouped only for
those who manage them, never for analysts."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.auth import Principal, Role
from crm_shared.domain import InvalidField

from ..access import require_stats_reader, stats_place
from ..db.pipeline_models import Opportunity
from ..domain.forecast import ForecastGroup, ForecastLine, fold, month_key
from ..domain.pipeline import OPEN_STAGES
from .staff_directory_service import staff_names

GROUP_COLUMNS = {
    ForecastGroup.OWNER: Opportunity.owner_id,
    ForecastGroup.BRANCH: Opportunity.branch_code,
    ForecastGroup.REGION: Opportunity.region_code,
    ForecastGroup.MONTH: Opportunity.expected_close_date,
}


async def forecast(
    session: AsyncSession,
    principal: Principal,
    group_by: ForecastGroup,
    *,
    close_from: date | None = None,
    close_to: date | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The open opportunities the caller may count (expected to close within [close_from,
    close_to] when given), grouped; returns the lines (with a name for owners) and the total."""
    require_stats_reader(principal)
    if group_by is ForecastGroup.OWNER and principal.role is Role.HQ_ANALYST:
        raise InvalidField("group_by", "analysts read the forecast by branch, region or month, not by person")
    if close_from and close_to and close_from > close_to:
        raise InvalidField("to", "must not be before from")
    column = GROUP_COLUMNS[group_by]
    stmt = select(
        column,
        func.count(),
        func.coalesce(func.sum(Opportunity.amount_tiyn), 0),
        func.coalesce(func.sum(Opportunity.amount_tiyn * Opportunity.probability), 0),
    ).where(Opportunity.stage.in_([str(s) for s in OPEN_STAGES]))
    own_region, own_branch = stats_place(principal)
    if own_branch is not None:
        stmt = stmt.where(Opportunity.branch_code == own_branch)
    if own_region is not None:
        stmt = stmt.where(Opportunity.region_code == own_region)
    if close_from is not None:
        stmt = stmt.where(Opportunity.expected_close_date >= close_from)
    if close_to is not None:
        stmt = stmt.where(Opportunity.expected_close_date <= close_to)
    rows = (await session.execute(stmt.group_by(column))).all()
    key_of = month_key if group_by is ForecastGroup.MONTH else str
    lines, total = fold((key_of(key), count, int(amount), int(weighted)) for key, count, amount, weighted in rows)
    names = await _owner_names(session, {line.key for line in lines}) if group_by is ForecastGroup.OWNER else {}
    return [_line(line, names.get(line.key)) for line in lines], _line(total)


async def _owner_names(session: AsyncSession, owner_ids: set[str]) -> dict[str, str]:
    """Owners by name: the staff directory's, else the name the records carry."""
    names = await staff_names(session, owner_ids)
    missing = owner_ids - names.keys()
    if missing:
        rows = await session.execute(
            select(Opportunity.owner_id, func.max(Opportunity.owner_name))
            .where(Opportunity.owner_id.in_(missing))
            .group_by(Opportunity.owner_id)
        )
        names.update(dict(rows.tuples().all()))
    return names


def _line(line: ForecastLine, name: str | None = None) -> dict[str, Any]:
    view = {
        "key": line.key,
        "count": line.count,
        "amount_tiyn": line.amount_tiyn,
        "weighted_tiyn": line.weighted_tiyn,
    }
    if name is not None:
        view["name"] = name
    return view
