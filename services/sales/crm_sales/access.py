"""Who may see and change what in sales, on top of crm_shared.auth's visibility (a role's scope:
own branch, own region or national; writers; reassigners)."""

from __future__ import annotations

from dataclasses import dataclass

from crm_shared.auth import Principal, Role, Scope
from crm_shared.domain import InvalidField

OWNER_ROLES = {Role.BRANCH_AGENT.value, Role.BRANCH_MANAGER.value, Role.REGIONAL_MANAGER.value, Role.ADMIN.value}


# --- owners --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffView:
    """What the ownership rules need to know about a staff member (from the staff directory)."""

    id: str
    role: str
    region_code: str | None
    branch_code: str | None
    active: bool


def staff_in_scope(principal: Principal, staff: StaffView) -> bool:
    """Whether ``staff``'s branch/region lies inside the caller's scope."""
    scope = principal.scope
    if scope is Scope.NATIONAL:
        return True
    if scope is Scope.REGION:
        return principal.region is not None and staff.region_code == principal.region
    if scope is Scope.BRANCH:
        return principal.branch is not None and staff.branch_code == principal.branch
    return False


def check_new_owner(principal: Principal, staff: StaffView | None, field: str = "to_owner_id") -> None:
    """The new owner must be an active staff member who can own records, inside the caller's scope."""
    if staff is None:
        raise InvalidField(field, "not a known staff member")
    if not staff.active:
        raise InvalidField(field, "this staff member is deactivated")
    if staff.role not in OWNER_ROLES:
        raise InvalidField(field, f"a {staff.role} cannot own sales records")
    if not staff.branch_code or not staff.region_code:
        raise InvalidField(field, "this staff member has no branch; records need one")
    if not staff_in_scope(principal, staff):
        raise InvalidField(field, "this staff member works outside your branch/region")
