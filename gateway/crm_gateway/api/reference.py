"""Reference data for every authenticated caller: regions and cities (ISO 3166-2:KZ, fixed), and
the branch network (the gateway's branches table, which administrators change)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from crm_shared.reference import REGIONS

from ..services import branch_service
from ..state import gateway_of
from .deps import CurrentCaller
from .schemas import BranchOut, Items, Names, RegionOut

router = APIRouter(prefix="/api/v1/reference", tags=["reference"])


@router.get(
    "/regions",
    response_model=Items[RegionOut],
    summary="The 17 regions and 3 cities of republican significance (ISO 3166-2:KZ)",
)
async def regions(caller: CurrentCaller) -> Items[RegionOut]:
    return Items[RegionOut](
        items=[
            RegionOut(code=r.code, kind=r.kind, name=Names(kk=r.name_kk, ru=r.name_ru, en=r.name_en)) for r in REGIONS
        ]
    )


@router.get(
    "/branches",
    response_model=Items[BranchOut],
    summary="Branches and the region each belongs to (closed ones too: active is false)",
)
async def branches(request: Request, caller: CurrentCaller, region_code: str | None = None) -> Items[BranchOut]:
    async with gateway_of(request).db.read_only() as session:
        rows = await branch_service.all_branches(session, region_code)
    return Items[BranchOut](
        items=[
            BranchOut(
                code=b.code,
                region_code=b.region_code,
                city=b.city,
                active=b.active,
                name=Names(kk=b.name_kk, ru=b.name_ru, en=b.name_en),
            )
            for b in rows
        ]
    )
