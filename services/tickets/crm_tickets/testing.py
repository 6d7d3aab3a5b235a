"""Helpers for tests and benchmarks that feed the tickets service: installed-product events
exactly as the orders service publishes them (crm.orders.installed_product.v1)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from crm_contracts import events as contracts
from crm_shared.envelope import CloudEvent


def installed_product_data(
    customer_id: str,
    *,
    product_id: str | None = None,
    version: int = 1,
    status: str = "active",
    offering_id: str = "inet-gpon-100",
    offering_name: str = "Fibre 100 Mbit/s",
    product_line: str = "internet",
    service_address: str = "Almaty, Abay Ave 150, apt 12",
    branch_code: str = "ALA-01",
    region_code: str = "KZ-75",
    at: datetime | None = None,
) -> dict[str, Any]:
    at = at or datetime.now(UTC)
    return {
        "id": product_id or str(uuid.uuid4()),
        "customer_id": customer_id,
        "offering_id": offering_id,
        "offering_name": offering_name,
        "product_line": product_line,
        "status": status,
        "characteristics": {"download_speed_mbps": "100"},
        "recurring_price_tiyn": 699000,
        "service_address": service_address,
        "branch_code": branch_code,
        "region_code": region_code,
        "order_id": str(uuid.uuid4()),
        "version": version,
        "activated_at": at.isoformat(),
        "terminated_at": at.isoformat() if status == "terminated" else None,
        "updated_at": at.isoformat(),
    }


def installed_product_event(action: str, data: dict[str, Any], *, check: bool = True) -> CloudEvent:
    """``action``: created | changed | terminated. ``check=False`` lets a test send a broken payload."""
    type_ = f"crm.orders.installed_product.{action}"
    if check:
        contracts.validate(type_, data)
    return CloudEvent(
        id=str(uuid.uuid4()),
        source="/crm/orders",
        type=type_,
        subject=str(data.get("id")),
        data=data,
        dataschema=f"urn:qazaq-crm:schema:{type_}:1",
        region=data.get("region_code"),
        branch=data.get("branch_code"),
    )
