"""Rules of a partner that need nothing but the values: no web, database or RPC types here.
A refusal is a crm_shared.domain error, which the edges answer (a 422 naming the field over
HTTP, INVALID_ARGUMENT over gRPC)."""

from __future__ import annotations

from crm_shared.domain import InvalidField
from crm_shared.reference import REGIONS_BY_CODE


def clean_name(value: str) -> str:
    """The name as stored: inner runs of spaces made one, none at either end; refused when
    nothing but spaces is left."""
    cleaned = " ".join(value.split())
    if not cleaned:
        raise InvalidField("name", "must not be blank")
    return cleaned


def clean_notes(value: str | None) -> str | None:
    """Notes as stored: trimmed, and None when blank (an empty note is no note)."""
    if value is None:
        return None
    return value.strip() or None


def check_region(region_code: str) -> str:
    """A region of Kazakhstan by its ISO 3166-2:KZ code (the 17 regions and 3 cities)."""
    if region_code not in REGIONS_BY_CODE:
        raise InvalidField("region_code", f"unknown region {region_code!r}; use its ISO 3166-2:KZ code, e.g. KZ-75")
    return region_code
