"""Rules of a partner that need nothing but the values: its kind, its status moves, its regions
and branches, its commission plan. A refusal is a crm_shared.domain error, which the edges answer
(a 422 naming the field over HTTP, INVALID_ARGUMENT over gRPC)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from crm_shared.domain import Conflict, InvalidField
from crm_shared.identifiers import IdentifierError, parse_bin
from crm_shared.reference import INITIAL_BRANCHES_BY_CODE, REGIONS_BY_CODE


class PartnerKind(StrEnum):
    DEALER = "dealer"
    AGENT = "agent"
    INSTALLER = "installer"


class PartnerStatus(StrEnum):
    ONBOARDING = "onboarding"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


# Where a status may go; terminated is final.
STATUS_MOVES: dict[PartnerStatus, set[PartnerStatus]] = {
    PartnerStatus.ONBOARDING: {PartnerStatus.ACTIVE, PartnerStatus.TERMINATED},
    PartnerStatus.ACTIVE: {PartnerStatus.SUSPENDED, PartnerStatus.TERMINATED},
    PartnerStatus.SUSPENDED: {PartnerStatus.ACTIVE, PartnerStatus.TERMINATED},
    PartnerStatus.TERMINATED: set(),
}
# A partner in these statuses may register deals (a new one may be used at once).
SELLING_STATUSES = {PartnerStatus.ONBOARDING, PartnerStatus.ACTIVE}
PLAN_KEYS = ("one_off_tiyn", "recurring_percent", "recurring_months", "clawback_days")


def clean_name(value: str) -> str:
    cleaned = " ".join(value.split())
    if not cleaned:
        raise InvalidField("name", "must not be blank")
    return cleaned


def check_bin(value: str) -> str:
    try:
        return parse_bin(value).value
    except IdentifierError as error:
        raise InvalidField("bin", str(error)) from None


def check_regions(region_codes: list[str]) -> list[str]:
    if not region_codes:
        raise InvalidField("region_codes", "at least one region the partner sells in")
    for code in region_codes:
        if code not in REGIONS_BY_CODE:
            raise InvalidField("region_codes", f"unknown region {code!r}; use its ISO 3166-2:KZ code, e.g. KZ-75")
    return list(dict.fromkeys(region_codes))


def check_branches(branch_codes: list[str], region_codes: list[str]) -> list[str]:
    """Branches the partner sells through, each in one of its regions (when the branch is known)."""
    for code in branch_codes:
        branch = INITIAL_BRANCHES_BY_CODE.get(code)
        if branch is not None and branch.region_code not in region_codes:
            raise InvalidField(
                "branch_codes", f"branch {code} is in {branch.region_code}, outside the partner's regions"
            )
    return list(dict.fromkeys(branch_codes))


def check_status_move(current: str, new: str) -> PartnerStatus:
    try:
        target = PartnerStatus(new)
    except ValueError:
        raise InvalidField("status", f"one of {', '.join(s.value for s in PartnerStatus)}") from None
    source = PartnerStatus(current)
    if target != source and target not in STATUS_MOVES[source]:
        raise Conflict(f"a {source.value} partner cannot become {target.value}", field="status")
    return target


def check_plan(plan: dict[str, Any]) -> dict[str, Any]:
    """The commission plan as stored: the four keys always there (integers, recurring_percent a
    decimal string so that no float touches money), tiers and per-offering amounts kept as given
    once checked."""
    cleaned = dict(plan)
    for key in ("one_off_tiyn", "recurring_months", "clawback_days"):
        value = plan.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidField(f"commission_plan.{key}", "a non-negative integer")
        cleaned[key] = value
    cleaned["recurring_percent"] = str(percent(plan.get("recurring_percent", 0), "commission_plan.recurring_percent"))
    tiers = plan.get("tiers", [])
    if not isinstance(tiers, list):
        raise InvalidField("commission_plan.tiers", "a list of {min_activations, one_off_tiyn}")
    for tier in tiers:
        if not isinstance(tier, dict) or not all(
            isinstance(tier.get(k), int) and not isinstance(tier.get(k), bool) and tier[k] >= 0
            for k in ("min_activations", "one_off_tiyn")
        ):
            raise InvalidField("commission_plan.tiers", "each tier is {min_activations, one_off_tiyn} integers")
    cleaned["tiers"] = sorted(tiers, key=lambda t: t["min_activations"])
    per_offering = plan.get("per_offering_tiyn", {})
    if not isinstance(per_offering, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in per_offering.values()
    ):
        raise InvalidField("commission_plan.per_offering_tiyn", "offering id -> non-negative integer tiyn")
    cleaned["per_offering_tiyn"] = per_offering
    return cleaned


def percent(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | str | float):
        raise InvalidField(field, "a percentage from 0 to 100")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise InvalidField(field, "a percentage from 0 to 100") from None
    if not number.is_finite() or not 0 <= number <= 100:
        raise InvalidField(field, "a percentage from 0 to 100")
    return number
