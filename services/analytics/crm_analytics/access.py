"""Who sees which analytics: aggregates only, never a record. Head office (hq_analyst, admin)
and the API keys given analytics:read see the whole country; a regional manager sees its own
region, whatever the request asks (another region is a 403); nobody else sees analytics."""

from __future__ import annotations

from crm_shared.auth import Principal, Role
from crm_shared.domain import NotAllowed

from .domain.dashboards import Filters

NATIONAL_READERS = frozenset({Role.ADMIN, Role.HQ_ANALYST, Role.SYSTEM})


def visible_filters(principal: Principal, requested: Filters) -> Filters:
    if principal.role in NATIONAL_READERS:
        return requested
    if principal.role == Role.REGIONAL_MANAGER and principal.region:
        if requested.region_code not in (None, principal.region):
            raise NotAllowed("a regional manager sees the analytics of its own region only")
        return requested.in_region(principal.region)
    raise NotAllowed("analytics are for head office and the regional managers")


def may_rebuild(principal: Principal) -> None:
    if principal.role != Role.ADMIN:
        raise NotAllowed("only an administrator rebuilds the analytics store")
