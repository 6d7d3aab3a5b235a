"""Who may see and change what in the partners service.

Administrators and channel managers manage partners, decide deals and resolve disputes; they see
every partner. A partner user (role partner, its principal carrying partner_id) sees its own
partner, its own deals, commissions and statements, and registers deals and opens disputes for
it: anything of another partner is a 404, as if it did not exist. Head-office analysts read
partners and statements. Every other role has no business here (403).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, true

from crm_shared.auth import Principal, Role, require_scope
from crm_shared.errors import forbidden, not_found

MANAGERS = {Role.ADMIN, Role.CHANNEL_MANAGER}
READERS = MANAGERS | {Role.HQ_ANALYST, Role.PARTNER, Role.SYSTEM}
READ_SCOPE, WRITE_SCOPE = "partners:read", "partners:write"


def require_reader(principal: Principal) -> None:
    if principal.role not in READERS:
        raise forbidden(f"role {principal.role.value} has no access to partners")
    require_scope(principal, READ_SCOPE)


def require_manager(principal: Principal) -> None:
    if principal.role not in MANAGERS:
        raise forbidden(f"role {principal.role.value} may not manage partners; ask a channel manager")


def require_partner_user(principal: Principal) -> str:
    """The caller's partner id: only a partner's own users register deals and open disputes."""
    if principal.role is not Role.PARTNER or not principal.partner_id:
        raise forbidden("only a partner's users register deals and open disputes for it")
    return principal.partner_id


def partner_filter(principal: Principal, column) -> ColumnElement[bool]:
    """A WHERE clause on a partner_id column: a partner user's own, everything for the others."""
    require_reader(principal)
    if principal.role is Role.PARTNER:
        return column == principal.partner_id if principal.partner_id else false()
    return true()


def check_partner_visible(
    principal: Principal, partner_id: str, what: str = "partner", ident: str | None = None
) -> None:
    """404 (never 403) when a partner user asks about another partner's records."""
    require_reader(principal)
    if principal.role is Role.PARTNER and principal.partner_id != partner_id:
        raise not_found(what, (ident or partner_id)[:64])
