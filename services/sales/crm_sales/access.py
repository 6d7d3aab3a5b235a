"""Who may see and change what in sales, on top of crm_shared.auth's visibility (a role's scope:
own branch, own region or national; writers; reassigners).

A record the caller may not see is answered like a missing one (404, by crm_shared.records);
the rules here are the sales-specific ones: API-key scopes, masking, who may own records, who
may log activities, reassign, or read statistics.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select, true

from crm_shared.auth import (
    REASSIGNER_ROLES,
    Principal,
    Role,
    Scope,
    can_see,
    can_write,
    mask_identifier,
    require_personal_data_access,
    require_writer,
    visibility_clause,
)
from crm_shared.domain import InvalidField
from crm_shared.errors import Problem, forbidden

from .domain.pipeline import RelatedType

# What an external system (Role.SYSTEM, API key) needs among its scopes (the gateway's
# "<service>:read|write"); write implies read. Staff roles need none.
READ_SCOPE = "sales:read"
WRITE_SCOPE = "sales:write"
# An external system (e.g. a contact-centre platform) that logs activities needs this narrower scope.
ACTIVITIES_WRITE_SCOPE = "sales:activities"
# An internal service (marketing's opt-outs) that records a customer's withdrawal of marketing consent.
CONSENT_SCOPE = "sales:consent"
IDENTIFIER_FIELDS = ("iin", "bin", "tax_id")
OWNER_ROLES = {Role.BRANCH_AGENT.value, Role.BRANCH_MANAGER.value, Role.REGIONAL_MANAGER.value, Role.ADMIN.value}
STATS_ROLES = {Role.HQ_ANALYST, Role.BRANCH_MANAGER, Role.REGIONAL_MANAGER, Role.ADMIN}
# Who answers data subjects: exports and erases a person's data, reads where an erasure stands and
# the audit of look-ups by IIN/BIN. The privacy officer reads every customer (national, unmasked)
# but is no sales agent: besides an erasure it changes no customer, lead, opportunity or activity,
# reassigns nothing and reads no statistics.
PRIVACY_ROLES = {Role.PRIVACY_OFFICER, Role.ADMIN}


# --- customers -----------------------------------------------------------------------------------


def require_reader(principal: Principal) -> None:
    """Personal records are for roles with a scope (analysts get aggregates only: 403)."""
    require_personal_data_access(principal)
    if not (principal.has_scope(READ_SCOPE) or principal.has_scope(WRITE_SCOPE)):
        raise forbidden(f"this API key lacks the {READ_SCOPE} scope")


def require_consent_recorder(principal: Principal) -> None:
    """Only an internal service identity given the consent scope (never a staff role or a key)."""
    if principal.role is not Role.SYSTEM or not principal.has_scope(CONSENT_SCOPE):
        raise forbidden(f"recording a withdrawal of consent needs the {CONSENT_SCOPE} scope")


def require_customer_writer(principal: Principal) -> None:
    require_reader(principal)
    require_writer(principal)
    if not principal.has_scope(WRITE_SCOPE):
        raise forbidden(f"this API key lacks the {WRITE_SCOPE} scope")


# What a customer changes about themselves in the self-service portal (Role.CUSTOMER, own record only);
# "phones": adds a phone (the portal confirmed it by a code sent to it).
SELF_SERVICE_FIELDS = frozenset({"email", "language", "marketing_consent", "data_processing_consent", "phones"})


def check_self_service_change(principal: Principal, fields: Collection[str]) -> None:
    """A customer changes their own e-mail, language and consents, nothing else (403 naming the field)."""
    refused = sorted(set(fields) - SELF_SERVICE_FIELDS) or ([] if fields else ["(this change)"])
    if refused:
        raise Problem(
            403,
            "Forbidden",
            f"{refused[0]}: a customer changes only their {', '.join(sorted(SELF_SERVICE_FIELDS))}",
            errors=[{"field": refused[0], "message": "not changed by the customer"}],
        )


def check_may_create_customer_in(principal: Principal, region_code: str, branch_code: str) -> None:
    if not can_write(principal, region_code, branch_code):
        raise Problem(
            403,
            "Forbidden",
            f"branch_code: you may not create customers in branch {branch_code}",
            errors=[{"field": "branch_code", "message": "outside the branches you may write to"}],
        )


def sees_existing_customer(principal: Principal, region_code: str, branch_code: str) -> bool:
    """Whether a duplicate report may name the existing customer (otherwise it only says that one
    exists in another branch)."""
    return can_see(principal, region_code, branch_code) and principal.sees_personal_data


# A run of exactly twelve digits is an IIN or a BIN wherever it appears (an e-mail address, a free
# text); phones are eleven digits in E.164 and never match. Record ids are UUIDs, whose last group
# of twelve may be all digits: they are left alone.
TWELVE_DIGITS = re.compile(r"(?<!\d)\d{12}(?!\d)")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def masked_text(value: Any) -> Any:
    """``value`` (a string, or lists/dicts of them) with every IIN/BIN-like run of twelve digits
    masked to its last four; other values unchanged."""
    if isinstance(value, str):
        if UUID.fullmatch(value):
            return value
        return TWELVE_DIGITS.sub(lambda match: mask_identifier(match.group()), value)
    if isinstance(value, list):
        return [masked_text(v) for v in value]
    if isinstance(value, dict):
        return {k: masked_text(v) for k, v in value.items()}
    return value


def birth_year(birth_date: str | None) -> int | None:
    """The year of an ISO birth date ("1990-05-15" -> 1990)."""
    return int(birth_date[:4]) if birth_date else None


def masked_customer(state: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """A customer's state as the caller may see it. For roles that must not see personal
    identifiers nothing from which more than the last four digits of the IIN/BIN can be derived:
    the IIN/BIN masked (********2345), no full birth date (an IIN starts with it; the birth year
    stays), and any other twelve-digit run (an e-mail address made of the IIN) masked too."""
    view = dict(state)
    masked = principal.masks_identifiers
    view["identifiers_masked"] = masked
    view["birth_year"] = birth_year(view.get("birth_date"))
    if masked:
        view["iin"] = mask_identifier(view["iin"])
        view["bin"] = mask_identifier(view["bin"])
        view["birth_date"] = None
        view = masked_text(view)
    return view


def masked_changes(changes: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """An audit entry's {field: [old, new]} as the caller may see it: for roles that must not see
    identifiers, the IIN/BIN masked (in their own fields and wherever else twelve digits appear)
    and a birth date reduced to its year."""
    if not principal.masks_identifiers:
        return changes
    view: dict[str, Any] = {}
    for field, values in changes.items():
        if field in IDENTIFIER_FIELDS and isinstance(values, list):
            values = [mask_identifier(v) if isinstance(v, str) else v for v in values]
        elif field == "birth_date" and isinstance(values, list):
            values = [birth_year(v) if isinstance(v, str) else v for v in values]
        view[field] = masked_text(values)
    return view


def require_privacy_officer(principal: Principal, what: str = "erasing a person's data") -> None:
    """Erasures, exports of a person's data and the audit of look-ups: privacy officers and admins."""
    if principal.role not in PRIVACY_ROLES:
        raise forbidden(f"{what} is for privacy officers (and administrators), not role {principal.role.value}")


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


def staff_sees(staff: StaffView, region_code: str, branch_code: str) -> bool:
    """Whether this staff member's own role and place let them see a record placed there."""
    try:
        role = Role(staff.role)
    except ValueError:
        return False
    as_principal = Principal(
        subject=staff.id, username=staff.id, role=role, region=staff.region_code, branch=staff.branch_code
    )
    return can_see(as_principal, region_code, branch_code)


# --- opportunities -------------------------------------------------------------------------------


def check_may_open_opportunity_for(principal: Principal, region_code: str, branch_code: str) -> None:
    """An opportunity is opened on a customer the caller may change."""
    if not can_write(principal, region_code, branch_code):
        raise Problem(
            403,
            "Forbidden",
            "customer_id: you may not open opportunities for this customer",
            errors=[{"field": "customer_id", "message": "outside the records you may change"}],
        )


# --- activities ----------------------------------------------------------------------------------


def visible_through_related(
    principal: Principal,
    related_type: ColumnElement[str],
    related_id: ColumnElement[str],
    related_models: Mapping[str, Any],
) -> ColumnElement[bool]:
    """Rows placed through another record (an activity through its customer, lead or
    opportunity): visible when the caller sees that record."""
    if principal.scope is Scope.NATIONAL:
        return true()
    if principal.scope is Scope.NONE:
        return false()
    return or_(
        *(
            and_(
                related_type == str(kind),
                related_id.in_(select(model.id).where(visibility_clause(principal, model))),
            )
            for kind, model in related_models.items()
        )
    )


def require_activity_writer(principal: Principal) -> None:
    require_personal_data_access(principal)
    if principal.role in (Role.HQ_ANALYST, Role.PRIVACY_OFFICER) or (
        principal.role is Role.SYSTEM and not principal.has_scope(ACTIVITIES_WRITE_SCOPE)
    ):
        raise forbidden(f"role {principal.role.value} may not log activities")


def may_log_on(principal: Principal, related_type: str, region_code: str, branch_code: str) -> bool:
    if can_write(principal, region_code, branch_code):
        return True
    # The call centre logs its interactions with customers (it never changes the customer itself).
    return principal.role is Role.CALL_CENTER_AGENT and related_type == RelatedType.CUSTOMER


def may_change_activity(principal: Principal, owner_id: str, region_code: str, branch_code: str) -> bool:
    """Writers of the related record change its activities; a call-centre agent its own interactions."""
    own_interaction = principal.role is Role.CALL_CENTER_AGENT and owner_id == principal.subject
    return can_write(principal, region_code, branch_code) or own_interaction


# --- reassignments -------------------------------------------------------------------------------


def require_reassigner(principal: Principal) -> None:
    if principal.role not in REASSIGNER_ROLES:
        raise forbidden(f"role {principal.role.value} may not reassign records; ask a branch or regional manager")
    if (principal.scope is Scope.REGION and not principal.region) or (
        principal.scope is Scope.BRANCH and not principal.branch
    ):
        raise forbidden("your identity carries no region/branch, so you have no scope to reassign in")


def scope_label(principal: Principal) -> str:
    """The scope a reassignment ran in, as recorded with it."""
    if principal.scope is Scope.NATIONAL:
        return "national"
    if principal.scope is Scope.REGION:
        return f"region:{principal.region}"
    return f"branch:{principal.branch}"


def may_see_reassignment(principal: Principal, actor_id: str, to_region_code: str, to_branch_code: str) -> bool:
    """Who ran it, admins, and whoever sees the place the records went to."""
    return (
        actor_id == principal.subject
        or principal.role is Role.ADMIN
        or can_see(principal, to_region_code, to_branch_code)
    )


# --- statistics ----------------------------------------------------------------------------------


def require_stats_reader(principal: Principal) -> None:
    if principal.role not in STATS_ROLES:
        raise forbidden(f"role {principal.role.value} may not read statistics")


def stats_place(principal: Principal) -> tuple[str | None, str | None]:
    """The (region, branch) a statistics reader is held to; None where the role is not held.
    Managers see their own branch or region, analysts and admins everything."""
    if principal.role is Role.BRANCH_MANAGER:
        return None, principal.branch or ""
    if principal.role is Role.REGIONAL_MANAGER:
        return principal.region or "", None
    return None, None
