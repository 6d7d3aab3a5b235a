"""Reference data for every authenticated caller: regions and cities, branches."""
from __future__ import annotations

from typing import Generic, TypeVar

from fastapi import APIRouter
from pydantic import BaseModel

from crm_shared.reference import DEMO_BRANCHES, REGIONS

from .deps import CurrentCaller

T = TypeVar("T")
router = APIRouter(prefix="/api/v1/reference", tags=["reference"])


class Names(BaseModel):
    kk: str
    ru: str
    en: str


class RegionOut(BaseModel):
    code: str
    kind: str
    name: Names


class BranchOut(BaseModel):
    code: str
    region_code: str
    city: str
    name: Names


class Items(BaseModel, Generic[T]):
    items: list[T]


@router.get("/regions", response_model=Items[RegionOut],
            summary="The 17 regions and 3 cities of republican significance (ISO 3166-2:KZ)")
async def regions(caller: CurrentCaller) -> Items[RegionOut]:
    return Items[RegionOut](items=[
        RegionOut(code=r.code, kind=r.kind, name=Names(kk=r.name_kk, ru=r.name_ru, en=r.name_en)) for r in REGIONS
    ])


@router.get("/branches", response_model=Items[BranchOut], summary="Branches and the region each belongs to")
async def branches(caller: CurrentCaller, region_code: str | None = None) -> Items[BranchOut]:
    return Items[BranchOut](items=[
        BranchOut(code=b.code, region_code=b.region_code, city=b.city,
                  name=Names(kk=b.name_kk, ru=b.name_ru, en=b.name_en))
        for b in DEMO_BRANCHES if region_code is None or b.region_code == region_code
    ])
