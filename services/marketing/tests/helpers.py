"""What the marketing tests share: callers (the marketer beside crm_shared.testing's roles),
customers as sales announces them (the real consumer handler applies them), free ports."""

from __future__ import annotations

import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from crm_marketing.events.consumers import apply_customer_event
from crm_shared.auth import Principal, Role
from crm_shared.envelope import CloudEvent
from crm_shared.testing import PRINCIPALS, auth_headers

MARKETER = Principal("t-marketer", "marketer", Role.MARKETER)
CALLERS = {**PRINCIPALS, "marketer": MARKETER}
HEADERS = {name: auth_headers(principal) for name, principal in CALLERS.items()}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def customer_state(**overrides: Any) -> dict[str, Any]:
    number = uuid.uuid4().int % 10**9
    state = {
        "id": str(uuid.uuid4()),
        "kind": "individual",
        "display_name": "Test Customer",
        "language": "ru",
        "region_code": "KZ-75",
        "branch_code": "ALA-01",
        "owner_id": "t-agent",
        "status": "active",
        "marketing_consent": True,
        "primary_phone": f"+7701{number:07d}"[:12],
        "email": f"c{number}@example.kz",
        "created_at": (datetime.now(UTC) - timedelta(days=400)).isoformat(),
        "version": 1,
    }
    return state | overrides


def customer_event(state: dict[str, Any], action: str = "created") -> CloudEvent:
    return CloudEvent(
        id=str(uuid.uuid4()),
        source="/crm/sales",
        type=f"crm.sales.customer.{action}",
        subject=state["id"],
        data=state,
    )


async def announce(db, *states: dict[str, Any], action: str = "created") -> None:
    """Applies customer events as the customers consumer does (its handler, in a transaction)."""
    for state in states:
        async with db.unit_of_work() as session:
            await apply_customer_event(session, customer_event(state, action))
