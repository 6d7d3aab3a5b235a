"""Caller identity inside the services, and record visibility.

The gateway authenticates users (JWT) and external systems (API keys), then forwards each
request with a short-lived internal token that it signs. Every service verifies that token
itself and applies visibility itself: services never trust a caller's claims unsigned.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import jwt
from fastapi import Depends, Request
from sqlalchemy import ColumnElement, and_, false, true

from .errors import Problem
from .partner_customers import partner_clause

INTERNAL_AUDIENCE = "crm-internal"
INTERNAL_ISSUER = "crm-gateway"
INTERNAL_TOKEN_HEADER = "x-crm-principal"
INTERNAL_TOKEN_TTL_S = 120


class Role(StrEnum):
    ADMIN = "admin"
    BRANCH_AGENT = "branch_agent"
    BRANCH_MANAGER = "branch_manager"
    REGIONAL_MANAGER = "regional_manager"
    CALL_CENTER_AGENT = "call_center_agent"
    HQ_ANALYST = "hq_analyst"
    PRIVACY_OFFICER = "privacy_officer"  # answers data subjects: exports and erases a person's data
    MARKETER = "marketer"  # head office: segments and campaigns (marketing), never sales' records
    SYSTEM = "system"  # an external system calling with an API key; its scopes say what it may do
    CHANNEL_MANAGER = "channel_manager"  # manages dealers and agents, approves their deals (partners)
    PARTNER = "partner"  # a dealer's or agent's user: its principal carries partner_id
    CUSTOMER = "customer"  # a customer signed in to the self-service portal: their own records only


class Scope(StrEnum):
    """How far a role's view of personal records reaches."""

    NONE = "none"
    BRANCH = "branch"
    REGION = "region"
    NATIONAL = "national"
    PARTNER = "partner"  # only the records of the caller's own partner (a partner_id on the record)
    SELF = "self"  # a customer: only the records of their own customer_id


ROLE_SCOPE: dict[Role, Scope] = {
    Role.ADMIN: Scope.NATIONAL,
    Role.BRANCH_AGENT: Scope.BRANCH,
    Role.BRANCH_MANAGER: Scope.BRANCH,
    Role.REGIONAL_MANAGER: Scope.REGION,
    Role.CALL_CENTER_AGENT: Scope.NATIONAL,
    Role.HQ_ANALYST: Scope.NONE,
    Role.PRIVACY_OFFICER: Scope.NATIONAL,
    Role.MARKETER: Scope.NATIONAL,
    Role.SYSTEM: Scope.NATIONAL,
    Role.CHANNEL_MANAGER: Scope.NONE,
    Role.PARTNER: Scope.PARTNER,
    Role.CUSTOMER: Scope.SELF,
}
# Roles that may change records (within their scope), and those that may reassign ownership.
WRITER_ROLES = {Role.ADMIN, Role.BRANCH_AGENT, Role.BRANCH_MANAGER, Role.REGIONAL_MANAGER, Role.SYSTEM}
REASSIGNER_ROLES = {Role.ADMIN, Role.BRANCH_MANAGER, Role.REGIONAL_MANAGER}
# Roles that see personal identifiers (IIN/BIN) unmasked.
UNMASKED_ROLES = {Role.ADMIN, Role.BRANCH_AGENT, Role.BRANCH_MANAGER, Role.REGIONAL_MANAGER, Role.PRIVACY_OFFICER}


@dataclass(frozen=True)
class Principal:
    subject: str  # user id or api key id
    username: str
    role: Role
    region: str | None = None
    branch: str | None = None
    partner_id: str | None = None
    customer_id: str | None = None
    scopes: tuple[str, ...] = field(default_factory=tuple)
    full_name: str | None = None  # the person's name as people read it; username is the sign-in name

    @property
    def display_name(self) -> str:
        """How records and history lines name this caller: the full name, else the sign-in name."""
        return self.full_name or self.username

    @property
    def scope(self) -> Scope:
        if self.role is Role.SYSTEM:
            # An external system's API key may be restricted to one branch or one region.
            if self.branch:
                return Scope.BRANCH
            if self.region:
                return Scope.REGION
        return ROLE_SCOPE[self.role]

    @property
    def sees_personal_data(self) -> bool:
        return self.scope is not Scope.NONE

    @property
    def masks_identifiers(self) -> bool:
        return self.role not in UNMASKED_ROLES

    def has_scope(self, scope: str) -> bool:
        return self.role is not Role.SYSTEM or scope in self.scopes

    def claims(self) -> dict[str, Any]:
        return {
            "sub": self.subject,
            "name": self.username,
            "role": self.role.value,
            "region": self.region,
            "branch": self.branch,
            "partner": self.partner_id,
            "customer": self.customer_id,
            "scopes": list(self.scopes),
            "full_name": self.full_name,
        }

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Principal:
        return cls(
            subject=claims["sub"],
            username=claims.get("name") or claims["sub"],
            role=Role(claims["role"]),
            region=claims.get("region"),
            branch=claims.get("branch"),
            partner_id=claims.get("partner"),
            customer_id=claims.get("customer"),
            scopes=tuple(claims.get("scopes") or ()),
            full_name=claims.get("full_name"),
        )


def issue_internal_token(principal: Principal, secret: str, ttl_s: int = INTERNAL_TOKEN_TTL_S) -> str:
    now = int(time.time())
    claims = principal.claims() | {"aud": INTERNAL_AUDIENCE, "iss": INTERNAL_ISSUER, "iat": now, "exp": now + ttl_s}
    return jwt.encode(claims, secret, algorithm="HS256")


# Tokens already verified, until they expire: the gateway reuses one token per principal for half
# its lifetime, and decoding it (HMAC, JSON, claims checks) was ~6 % of a simple read's CPU.
_VERIFIED: dict[tuple[str, str], tuple[Principal, float]] = {}
MAX_VERIFIED_TOKENS = 10_000


def verify_internal_token(token: str, secret: str) -> Principal:
    known = _VERIFIED.get((token, secret))
    if known is not None and time.time() < known[1]:
        return known[0]
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=INTERNAL_AUDIENCE,
            issuer=INTERNAL_ISSUER,
            options={"require": ["exp", "aud", "iss", "sub"]},
        )
        principal = Principal.from_claims(claims)
    except (jwt.PyJWTError, KeyError, ValueError) as exc:
        raise Problem(
            401, "Unauthorized", f"invalid caller identity token: {exc}", headers={"WWW-Authenticate": "Bearer"}
        ) from exc
    if len(_VERIFIED) >= MAX_VERIFIED_TOKENS:
        _VERIFIED.clear()
    _VERIFIED[(token, secret)] = (principal, float(claims["exp"]))
    return principal


def principal_dependency(secret_getter):
    """A FastAPI dependency that returns the verified Principal of the request.

    ``secret_getter(request)`` returns the internal token secret (from the app's settings).
    """

    async def current_principal(request: Request) -> Principal:
        token = request.headers.get(INTERNAL_TOKEN_HEADER)
        if not token:
            raise Problem(
                401,
                "Unauthorized",
                "missing caller identity; call through the gateway",
                headers={"WWW-Authenticate": "Bearer"},
            )
        principal = verify_internal_token(token, secret_getter(request))
        request.state.principal = principal
        return principal

    return Depends(current_principal)


# --- record visibility -------------------------------------------------------------------


def customer_column(model):
    """The column naming the customer a record belongs to: ``customer_id``, or the column a model
    names in ``__customer_key__`` (sales' customers: ``id``); None for records of no one customer."""
    return getattr(model, getattr(model, "__customer_key__", "customer_id"), None)


def visibility_clause(principal: Principal, model) -> ColumnElement[bool]:
    """A WHERE clause limiting ``model`` (with region_code/branch_code columns) to what the caller sees;
    a customer sees the records of their own customer_id only."""
    scope = principal.scope
    if scope is Scope.NATIONAL:
        return true()
    if scope is Scope.SELF:
        column = customer_column(model)
        if column is None or not principal.customer_id:
            return false()
        return column == principal.customer_id
    if scope is Scope.REGION and principal.region:
        return model.region_code == principal.region
    if scope is Scope.BRANCH and principal.branch:
        return and_(model.branch_code == principal.branch)
    if scope is Scope.PARTNER:
        return partner_clause(principal.partner_id, model)
    return false()


def can_see(principal: Principal, region_code: str | None, branch_code: str | None) -> bool:
    """By place only: a customer (Scope.SELF) sees nothing by place (``sees_customer`` instead)."""
    scope = principal.scope
    if scope is Scope.NATIONAL:
        return True
    if scope is Scope.REGION:
        return principal.region is not None and principal.region == region_code
    if scope is Scope.BRANCH:
        return principal.branch is not None and principal.branch == branch_code
    return False


def sees_customer(
    principal: Principal, customer_id: str | None, region_code: str | None, branch_code: str | None
) -> bool:
    """Whether the caller sees a record about ``customer_id`` placed in that branch and region."""
    if principal.scope is Scope.SELF:
        return principal.customer_id is not None and principal.customer_id == customer_id
    return can_see(principal, region_code, branch_code)


def can_write(principal: Principal, region_code: str | None, branch_code: str | None) -> bool:
    return principal.role in WRITER_ROLES and can_see(principal, region_code, branch_code)


def can_reassign(principal: Principal, region_code: str | None, branch_code: str | None) -> bool:
    return principal.role in REASSIGNER_ROLES and can_see(principal, region_code, branch_code)


def require_personal_data_access(principal: Principal) -> None:
    if not principal.sees_personal_data:
        raise Problem(403, "Forbidden", f"role {principal.role.value} sees aggregates only, not personal records")


def require_writer(principal: Principal) -> None:
    if principal.role not in WRITER_ROLES:
        raise Problem(403, "Forbidden", f"role {principal.role.value} may not change records")


def mask_identifier(value: str | None) -> str | None:
    """Keep the last four characters of an IIN/BIN (or phone) for recognition; hide the rest."""
    if not value:
        return value
    return "*" * max(len(value) - 4, 0) + value[-4:]


def require_scope(principal: Principal, scope: str) -> None:
    """403 unless the caller holds ``scope``; users hold every scope of their role, API keys only
    the scopes they were given."""
    if not principal.has_scope(scope):
        raise Problem(403, "Forbidden", f"this API key lacks the scope {scope}", required_scope=scope)
