"""Erasure of a customer's personal data on request (the data subject's right to have it
destroyed): what the record becomes, which audit values go, and when a request is complete.
Pure rules; the use case is crm_sales.services.erasure_service."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from crm_shared.domain import InvalidField

from .customers import CustomerKind

# The record stays, so that orders and invoices keep their books: under this name.
ERASED_FIRST_NAME = "customer"
ERASED_LAST_NAME = "Erased"  # "Erased customer": display names are "Last First"
ERASED_LEGAL_NAME = "Erased customer"
ERASED_TEXT = "[erased]"
MAX_REASON = 2000

# Audit values that say nothing about the person and stay in the history of an erased customer;
# every other field's old and new values are replaced (who changed what and when stays).
AUDIT_FIELDS_KEPT = frozenset(
    {
        "kind",
        "status",
        "language",
        "marketing_consent",
        "data_processing_consent",
        "owner_id",
        "branch_code",
        "region_code",
        "merged_from",
        "merged_into_id",
        "customer_id",
        "related_id",
        "erasure_id",
        "reason",
        "stage",
        "interest",
        "source",
    }
)


class ErasureStatus(StrEnum):
    PENDING = "pending"  # sales erased its record; some services have not confirmed yet
    COMPLETE = "complete"  # every service that keeps copies confirmed


def erasure_reason(value: str | None) -> str:
    """Why the person's data is destroyed (the data subject's request, its reference): required."""
    reason = (value or "").strip()
    if not reason:
        raise InvalidField("reason", "required: say why the personal data is erased (e.g. the request's reference)")
    if len(reason) > MAX_REASON:
        raise InvalidField("reason", f"must be at most {MAX_REASON} characters")
    return reason


def erased_names(kind: str) -> dict[str, str | None]:
    """The name fields of an erased customer of this kind."""
    if kind == CustomerKind.BUSINESS:
        return {"first_name": None, "last_name": None, "middle_name": None, "legal_name": ERASED_LEGAL_NAME}
    return {"first_name": ERASED_FIRST_NAME, "last_name": ERASED_LAST_NAME, "middle_name": None, "legal_name": None}


def redacts_audit_field(field: str) -> bool:
    return field not in AUDIT_FIELDS_KEPT


@dataclass(frozen=True)
class ServiceConfirmation:
    confirmed_at: datetime
    records: Mapping[str, Any]


def erasure_status(required: Iterable[str], confirmations: Mapping[str, ServiceConfirmation]) -> ErasureStatus:
    """Complete once every service in ``required`` confirmed; services that confirm without being
    required (one leaving the suite) change nothing."""
    missing = [service for service in required if service not in confirmations]
    return ErasureStatus.PENDING if missing else ErasureStatus.COMPLETE
