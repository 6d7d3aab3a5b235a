"""Deal registration rules: the customer's key (by which channel conflicts are found), the
customer a partner describes, and who holds a customer when two partners want it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from crm_shared.domain import Conflict, InvalidField
from crm_shared.identifiers import IdentifierError, parse_bin, parse_iin
from crm_shared.phones import PhoneError, normalize_phone


class DealStatus(StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"


class ConflictReason(StrEnum):
    REGISTERED_BY_ANOTHER_PARTNER = "registered_by_another_partner"
    ALREADY_REGISTERED_BY_YOU = "already_registered_by_you"
    ACTIVE_BRANCH_CUSTOMER = "active_branch_customer"


REASON_TEXT = {
    ConflictReason.REGISTERED_BY_ANOTHER_PARTNER: "this customer is already registered by another partner",
    ConflictReason.ALREADY_REGISTERED_BY_YOU: "you already registered this customer",
    ConflictReason.ACTIVE_BRANCH_CUSTOMER: "this customer is already an active customer of a branch",
}


class ChannelConflict(Conflict):
    """409 naming the reason, never the partner that holds the customer."""

    def __init__(self, reason: ConflictReason) -> None:
        super().__init__(REASON_TEXT[reason], field="customer", problem_type="channel-conflict", reason=reason.value)


@dataclass(frozen=True)
class DealCustomer:
    kind: str  # individual | business
    identifier: str  # the IIN or BIN
    first_name: str | None
    last_name: str | None
    legal_name: str | None
    phone: str

    @property
    def key(self) -> str:
        """The customer's identity across partners and sales: kind of identifier and its digits."""
        return ("IIN:" if self.kind == "individual" else "BIN:") + self.identifier

    @property
    def display_name(self) -> str:
        return self.legal_name or f"{self.first_name} {self.last_name}"

    def as_dict(self) -> dict[str, Any]:
        values = {"kind": self.kind, "phone": self.phone}
        if self.kind == "individual":
            values |= {"iin": self.identifier, "first_name": self.first_name, "last_name": self.last_name}
        else:
            values |= {"bin": self.identifier, "legal_name": self.legal_name}
        return values


def deal_customer(values: dict[str, Any]) -> DealCustomer:
    kind = values.get("kind")
    try:
        phone = normalize_phone(values.get("phone") or "")
    except PhoneError as error:
        raise InvalidField("customer.phone", str(error)) from None
    if kind == "individual":
        try:
            identifier = parse_iin(values.get("iin") or "").value
        except IdentifierError as error:
            raise InvalidField("customer.iin", str(error)) from None
        first, last = _name(values, "first_name"), _name(values, "last_name")
        return DealCustomer("individual", identifier, first, last, None, phone)
    if kind == "business":
        try:
            identifier = parse_bin(values.get("bin") or "").value
        except IdentifierError as error:
            raise InvalidField("customer.bin", str(error)) from None
        return DealCustomer("business", identifier, None, None, _name(values, "legal_name"), phone)
    raise InvalidField("customer.kind", "individual (with iin) or business (with bin)")


def _name(values: dict[str, Any], field: str) -> str:
    value = " ".join(str(values.get(field) or "").split())
    if not value:
        raise InvalidField(f"customer.{field}", "required")
    return value


@dataclass(frozen=True)
class Claim:
    partner_id: str
    deal_id: str
    protected_until: datetime
    brought: bool  # an approved deal: the partner brought the customer


def check_claim(claim: Claim, partner_id: str, now: datetime) -> None:
    """Whether ``partner_id`` may register a deal for a customer someone already claimed."""
    if claim.partner_id == partner_id:
        if claim.brought or claim.protected_until > now:
            raise ChannelConflict(ConflictReason.ALREADY_REGISTERED_BY_YOU)
        return
    if claim.brought or claim.protected_until > now:
        raise ChannelConflict(ConflictReason.REGISTERED_BY_ANOTHER_PARTNER)
