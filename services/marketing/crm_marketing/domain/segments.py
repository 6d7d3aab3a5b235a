"""Rules of a segment that need nothing but the values: no web, database or RPC types here.
A refusal is a crm_shared.domain error, which the edges answer (a 422 naming the field)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crm_shared.domain import InvalidField
from crm_shared.reference import REGIONS_BY_CODE

KINDS = frozenset({"individual", "business"})
LANGUAGES = frozenset({"kk", "ru", "en"})
TIERS = frozenset({"none", "bronze", "silver", "gold"})
# From the invoices orders announces: "overdue" an invoice unpaid past its due date, "due" one unpaid
# not yet due, "paid" invoices all paid, "none" no invoice yet.
PAYMENT_STATUSES = frozenset({"paid", "due", "overdue", "none"})
LIST_CRITERIA = (
    "region_codes",
    "branch_codes",
    "kinds",
    "languages",
    "product_lines",
    "offering_ids",
    "tiers",
    "payment_statuses",
)
MAX_VALUES = 200


@dataclass(frozen=True)
class Criteria:
    """What a member must match; an empty list or None means "any". Consent is never a criterion:
    only customers with marketing consent are ever members."""

    region_codes: tuple[str, ...] = ()
    branch_codes: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    product_lines: tuple[str, ...] = ()
    offering_ids: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    payment_statuses: tuple[str, ...] = ()
    min_tenure_days: int | None = None
    has_open_tickets: bool | None = None  # True: at least one open ticket; False: none

    def as_json(self) -> dict[str, Any]:
        values: dict[str, Any] = {name: list(getattr(self, name)) for name in LIST_CRITERIA}
        values["min_tenure_days"] = self.min_tenure_days
        values["has_open_tickets"] = self.has_open_tickets
        return values


def clean_name(value: str) -> str:
    cleaned = " ".join(value.split())
    if not cleaned:
        raise InvalidField("name", "must not be blank")
    return cleaned


def clean_criteria(raw: dict[str, Any]) -> Criteria:
    values: dict[str, Any] = {}
    for name in LIST_CRITERIA:
        items = raw.get(name) or []
        field = f"criteria.{name}"
        if len(items) > MAX_VALUES:
            raise InvalidField(field, f"at most {MAX_VALUES} values")
        cleaned = tuple(dict.fromkeys(str(item).strip() for item in items))
        if any(not item for item in cleaned):
            raise InvalidField(field, "blank value")
        values[name] = cleaned
    _only(values["region_codes"], REGIONS_BY_CODE, "criteria.region_codes")
    _only(values["kinds"], KINDS, "criteria.kinds")
    _only(values["languages"], LANGUAGES, "criteria.languages")
    _only(values["tiers"], TIERS, "criteria.tiers")
    _only(values["payment_statuses"], PAYMENT_STATUSES, "criteria.payment_statuses")
    tenure = raw.get("min_tenure_days")
    if tenure is not None and tenure < 0:
        raise InvalidField("criteria.min_tenure_days", "must not be negative")
    open_tickets = raw.get("has_open_tickets")
    if open_tickets is not None and not isinstance(open_tickets, bool):
        raise InvalidField("criteria.has_open_tickets", "true, false or null")
    return Criteria(**values, min_tenure_days=tenure, has_open_tickets=open_tickets)


def _only(values: tuple[str, ...], allowed, field: str) -> None:
    unknown = [value for value in values if value not in allowed]
    if unknown:
        raise InvalidField(field, f"unknown value(s): {', '.join(unknown)}")
