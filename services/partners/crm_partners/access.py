"""Who may see and change partners, on top of crm_shared.auth's visibility model.

A partner is seen within the caller's scope (own branch, own region, or the whole country) and
changed there by the roles that write; ``crm_shared.records`` loads one record that way (404 when
hidden, 403 for roles that never write). The per-branch counts hold no personal data, so head-office
analysts, who never see the records themselves, see every branch's count.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, true

from crm_shared.auth import Principal, can_write, require_writer, visibility_clause
from crm_shared.domain import InvalidField, NotAllowed

from .db.models import Partner, PartnerBranchCount
from .domain.partners import check_region


def visible_partners(principal: Principal) -> ColumnElement[bool]:
    """A WHERE clause: the partners the caller may see."""
    return visibility_clause(principal, Partner)


def visible_counts(principal: Principal) -> ColumnElement[bool]:
    """A WHERE clause: the branch counts the caller may see. Roles that see aggregates only (the
    head-office analysts) see all of them; the others keep to their scope."""
    if not principal.sees_personal_data:
        return true()
    return visibility_clause(principal, PartnerBranchCount)


def placement(principal: Principal, branch_code: str | None, region_code: str | None) -> tuple[str, str]:
    """The branch and region a new partner goes to: the caller's own, unless the request names
    others the caller may write to.

    Without a branch directory of its own the service cannot tell which region a branch belongs
    to, so another branch than the caller's must come with its region; the caller's own branch
    is in the caller's own region. (crm_sales.branch_directory shows how a service keeps one
    from the gateway's crm.gateway.branch.v1 events.)
    """
    require_writer(principal)
    branch = branch_code or principal.branch
    if branch is None:
        raise InvalidField("branch_code", "required: your account is not bound to a branch")
    if branch == principal.branch:
        region = region_code or principal.region
        if principal.region and region != principal.region:
            raise InvalidField("region_code", f"branch {branch} is in region {principal.region}")
    elif region_code is None:
        raise InvalidField("region_code", f"required with a branch other than your own ({branch})")
    else:
        region = region_code
    if region is None:
        raise InvalidField("region_code", "required: your account is not bound to a region")
    check_region(region)
    if not can_write(principal, region, branch):
        raise NotAllowed(f"you may not register a partner in branch {branch} ({region})")
    return branch, region
