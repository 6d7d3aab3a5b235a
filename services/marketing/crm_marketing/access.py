"""Who may see and change what in marketing, on top of crm_shared.auth's visibility model.

Segments and campaigns are head-office work: the marketer (and the admin) create them, and only
they launch a campaign. Anyone on the staff may read a segment's or a campaign's figures
(aggregates, no personal data); analysts get nothing more. Records about a customer (segment
members, deliveries, loyalty accounts) follow the customer's branch and region: branch staff their
branch, managers their region, the call centre and head office all, analysts none (403)."""

from __future__ import annotations

from sqlalchemy import ColumnElement

from crm_shared.auth import Principal, Role, can_see, require_personal_data_access, visibility_clause
from crm_shared.domain import NotAllowed

MARKETING_ROLES = frozenset({Role.ADMIN, Role.MARKETER})
# Who enrols a customer or redeems points at a branch till (within their scope), beside the admin.
LOYALTY_WRITERS = frozenset(
    {Role.ADMIN, Role.BRANCH_AGENT, Role.BRANCH_MANAGER, Role.REGIONAL_MANAGER, Role.CALL_CENTER_AGENT, Role.SYSTEM}
)


def require_marketer(principal: Principal, action: str) -> None:
    if principal.role not in MARKETING_ROLES:
        raise NotAllowed(f"only a marketer or an administrator may {action}")


def require_staff(principal: Principal) -> None:
    """Aggregates (a segment's size, a campaign's figures): any staff role, no customer or system."""
    if principal.role in (Role.SYSTEM,) or principal.customer_id is not None:
        raise NotAllowed("marketing figures are for staff")


def visible_customers(principal: Principal, model) -> ColumnElement[bool]:
    """A WHERE clause on a table with region_code / branch_code of the customer (403 for analysts)."""
    require_personal_data_access(principal)
    return visibility_clause(principal, model)


def require_loyalty_writer(principal: Principal) -> None:
    if principal.role not in LOYALTY_WRITERS:
        raise NotAllowed("you may not change loyalty accounts")


def can_see_customer(principal: Principal, record) -> bool:
    """A record about a customer (region_code / branch_code of the customer) within the caller's scope."""
    return can_see(principal, record.region_code, record.branch_code)
