"""Request and response bodies of the gateway's own REST API: administration of users, API keys
and branches, the staff directory and the reference data. Request bodies refuse unknown fields."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from crm_shared.schemas import Strict

from ..services.api_key_service import NewApiKey
from ..services.branch_service import NewBranch
from ..services.user_service import NewUser

T = TypeVar("T")
Language = Literal["kk", "ru", "en"]
Email = Annotated[str, Field(min_length=6, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")]


# --- users (admin) -----------------------------------------------------------------------------


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    username: str
    full_name: str
    role: str
    region_code: str | None
    branch_code: str | None
    partner_id: str | None = None
    language: str
    email: str | None = None
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime


class UserCreate(Strict):
    username: str = Field(min_length=1, max_length=64)
    full_name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)
    role: str
    region_code: str | None = None
    branch_code: str | None = None
    partner_id: str | None = Field(None, min_length=1, max_length=64, description="role partner only: its partner")
    language: Language = "ru"
    email: Email | None = Field(None, description="the person's own address: task reminders go there")

    def new_user(self) -> NewUser:
        return NewUser(
            username=self.username,
            full_name=self.full_name,
            password=self.password,
            role=self.role,
            region_code=self.region_code,
            branch_code=self.branch_code,
            partner_id=self.partner_id,
            language=self.language,
            email=self.email,
        )


class UserPatch(Strict):
    """Fields to change; region_code/branch_code may be set to null. ``version`` may replace If-Match."""

    full_name: str | None = Field(None, min_length=1, max_length=200)
    role: str | None = None
    region_code: str | None = None
    branch_code: str | None = None
    partner_id: str | None = Field(None, min_length=1, max_length=64)
    language: Language | None = None
    email: Email | None = Field(None, description="the person's own address (null: none)")
    active: bool | None = None
    version: int | None = None


class PasswordReset(Strict):
    password: str = Field(min_length=1, max_length=1024)


# --- API keys (admin) --------------------------------------------------------------------------


class ApiKeyCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(min_length=1, max_length=50)
    region_code: str | None = None
    branch_code: str | None = None

    def new_api_key(self) -> NewApiKey:
        return NewApiKey(
            name=self.name, scopes=tuple(self.scopes), region_code=self.region_code, branch_code=self.branch_code
        )


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    prefix: str
    scopes: list[str]
    region_code: str | None
    branch_code: str | None
    active: bool
    created_by: str | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The full key, crm_<prefix>_<secret>: shown this once, never again")


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]


# --- branches (admin) --------------------------------------------------------------------------


class BranchAdminOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    region_code: str
    city: str
    name_kk: str
    name_ru: str
    name_en: str
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime
    active_users: int = Field(0, description="active staff accounts placed in the branch")


class BranchAdminList(BaseModel):
    items: list[BranchAdminOut]


class BranchCreate(Strict):
    code: str = Field(min_length=1, max_length=16, description="<CITY>-<NN>, e.g. ALA-03; never changes")
    region_code: str = Field(min_length=1, max_length=16, description="ISO 3166-2:KZ; never changes")
    city: str = Field(min_length=1, max_length=100)
    name_kk: str = Field(min_length=1, max_length=200)
    name_ru: str = Field(min_length=1, max_length=200)
    name_en: str = Field(min_length=1, max_length=200)

    def new_branch(self) -> NewBranch:
        return NewBranch(
            code=self.code,
            region_code=self.region_code,
            city=self.city,
            name_kk=self.name_kk,
            name_ru=self.name_ru,
            name_en=self.name_en,
        )


class BranchPatch(Strict):
    """Fields to change. ``active: false`` closes the branch, ``true`` reopens it. ``version`` may
    replace If-Match."""

    city: str | None = Field(None, min_length=1, max_length=100)
    name_kk: str | None = Field(None, min_length=1, max_length=200)
    name_ru: str | None = Field(None, min_length=1, max_length=200)
    name_en: str | None = Field(None, min_length=1, max_length=200)
    active: bool | None = None
    version: int | None = None


# --- the staff directory -----------------------------------------------------------------------


class StaffOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    username: str
    full_name: str
    role: str
    branch_code: str | None
    region_code: str | None
    active: bool


# --- reference data ----------------------------------------------------------------------------


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
    active: bool


class Items(BaseModel, Generic[T]):
    items: list[T]
