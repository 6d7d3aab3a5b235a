"""Who may do what with orders, beyond record visibility (crm_shared.auth): the scopes of
external systems' API keys, and staff roles."""

from __future__ import annotations

from crm_shared.auth import Principal, Role, require_personal_data_access, require_scope, require_writer
from crm_shared.errors import Problem, forbidden

READ, WRITE, FULFIL, BILLING = "orders:read", "orders:write", "orders:fulfil", "orders:billing"
# Who may export everything held about a customer (crm.orders.v1.PersonalDataService). The privacy
# officer otherwise reads orders, products and balances like any national role (orders:read) and
# takes, changes, fulfils and bills nothing (it is not in crm_shared.auth.WRITER_ROLES).
EXPORT_ROLES = {Role.ADMIN, Role.PRIVACY_OFFICER}


def require_reader(principal: Principal) -> None:
    require_personal_data_access(principal)
    require_scope(principal, READ)


def require_order_writer(principal: Principal) -> None:
    require_personal_data_access(principal)
    require_writer(principal)
    require_scope(principal, WRITE)


def require_catalogue_reader(principal: Principal) -> None:
    """The catalogue holds no personal data: every role reads it, API keys with orders:read."""
    require_scope(principal, READ)


def require_catalogue_editor(principal: Principal) -> None:
    if principal.role is not Role.ADMIN:
        raise forbidden("the catalogue is changed by administrators")


def require_system_scope(principal: Principal, scope: str, what: str) -> None:
    """Fulfilment and billing reports come from external systems with their scope (or an admin)."""
    if principal.role is Role.ADMIN:
        return
    if principal.role is not Role.SYSTEM:
        raise Problem(
            403,
            "Forbidden",
            f"{what} is reported by an external system's API key with the scope {scope}",
            required_scope=scope,
        )
    require_scope(principal, scope)


def require_personal_data_exporter(principal: Principal, customer_id: str | None = None) -> None:
    """Privacy officers and admins export anyone's data; a customer (the portal's "my data") their own."""
    if principal.role is Role.CUSTOMER and customer_id is not None and customer_id == principal.customer_id:
        return
    if principal.role not in EXPORT_ROLES:
        raise forbidden(f"role {principal.role.value} may not export a customer's personal data")
