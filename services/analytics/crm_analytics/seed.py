"""Synthetic events for the benchmark and the tests: CloudEvents shaped as the services publish
them (the same topics, types and payload fields), without any personal data of real people. The
demo data of `crm up --seed` needs nothing here: the analytics are what the other services'
seeded events make of them, through the broker."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from crm_shared.db import Database
from crm_shared.envelope import CloudEvent

REGIONS = {"KZ-75": ("ALA-01", "ALA-02"), "KZ-35": ("KAR-01",), "KZ-71": ("AST-01",)}
LINES = ("internet", "tv", "mobile", "fixed_line", "bundle")
START = datetime(2026, 1, 1, tzinfo=UTC)


async def seed_demo(db: Database) -> dict[str, int]:
    """`crm seed analytics`: nothing of its own; the other services' seeded events are its data."""
    return {}


def _event(topic: str, type_: str, data: dict, region: str, branch: str, time: datetime) -> tuple[str, CloudEvent]:
    event = CloudEvent(
        id=str(uuid.uuid4()),
        source="/crm/" + type_.split(".")[1],
        type=type_,
        subject=data["id"],
        data=data,
        time=time,
        region=region,
        branch=branch,
    )
    return topic, event


def demo_events(
    count: int, *, seed: int = 7, days: int = 300, regions: dict[str, tuple[str, ...]] | None = None
) -> Iterator[tuple[str, CloudEvent]]:
    """``count`` events: customers, orders (one-off and recurring amounts), installed products,
    opportunities and tickets, spread over ``days`` days from 2026-01-01, in a fixed random order,
    in ``regions`` (region code -> its branch codes; default three demo regions)."""
    rng = random.Random(seed)
    regions = regions or REGIONS
    made = 0
    customers: list[tuple[str, str, str]] = []
    while made < count:
        region = rng.choice(list(regions))
        branch = rng.choice(regions[region])
        at = START + timedelta(seconds=rng.randrange(days * 86400))
        stamp = at.isoformat().replace("+00:00", "Z")
        kind = rng.random()
        if kind < 0.2 or not customers:
            customer = (str(uuid.uuid4()), region, branch)
            customers.append(customer)
            data = {
                "id": customer[0],
                "kind": rng.choice(("individual", "business")),
                "status": "active",
                "region_code": region,
                "branch_code": branch,
                "version": 1,
                "created_at": stamp,
                "updated_at": stamp,
                "display_name": "Synthetic customer",
            }
            yield _event("crm.sales.customer.v1", "crm.sales.customer.created", data, region, branch, at)
        else:
            customer_id, region, branch = rng.choice(customers)
            line = rng.choice(LINES)
            if kind < 0.5:
                state = rng.choice(("completed", "completed", "in_progress", "cancelled"))
                data = {
                    "id": str(uuid.uuid4()),
                    "customer_id": customer_id,
                    "state": state,
                    "items": [{"product_line": line}],
                    "one_off_total_tiyn": rng.randrange(0, 5_000_000),
                    "recurring_total_tiyn": rng.randrange(300_000, 2_000_000),
                    "region_code": region,
                    "branch_code": branch,
                    "version": 3,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
                yield _event("crm.orders.order.v1", "crm.orders.order.created", data, region, branch, at)
            elif kind < 0.65:
                terminated = rng.random() < 0.1
                data = {
                    "id": str(uuid.uuid4()),
                    "customer_id": customer_id,
                    "product_line": line,
                    "offering_id": f"{line}-basic",
                    "status": "terminated" if terminated else "active",
                    "recurring_price_tiyn": rng.randrange(300_000, 2_000_000),
                    "region_code": region,
                    "branch_code": branch,
                    "version": 1,
                    "activated_at": stamp,
                    "terminated_at": (at + timedelta(days=20)).isoformat() if terminated else None,
                    "updated_at": stamp,
                }
                yield _event(
                    "crm.orders.installed_product.v1", "crm.orders.installed_product.created", data, region, branch, at
                )
            elif kind < 0.8:
                stage = rng.choice(("prospecting", "proposal", "closed_won", "closed_lost"))
                data = {
                    "id": str(uuid.uuid4()),
                    "customer_id": customer_id,
                    "stage": stage,
                    "product_line": line,
                    "amount_tiyn": rng.randrange(1_000_000, 50_000_000),
                    "closed_at": (at + timedelta(days=5)).isoformat() if stage.startswith("closed") else None,
                    "region_code": region,
                    "branch_code": branch,
                    "version": 2,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
                yield _event("crm.sales.opportunity.v1", "crm.sales.opportunity.created", data, region, branch, at)
            else:
                resolved = rng.random() < 0.7
                data = {
                    "id": str(uuid.uuid4()),
                    "customer_id": customer_id,
                    "status": "resolved" if resolved else "in_progress",
                    "category": line if line != "bundle" else "billing",
                    "priority": rng.choice(("high", "medium", "low")),
                    "channel": rng.choice(("phone", "branch", "self_service")),
                    "sla": {"resolution_state": rng.choice(("met", "met", "met", "breached")) if resolved else "ok"},
                    "resolved_at": (at + timedelta(hours=rng.randrange(1, 72))).isoformat() if resolved else None,
                    "region_code": region,
                    "branch_code": branch,
                    "version": 4,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
                yield _event("crm.tickets.ticket.v1", "crm.tickets.ticket.created", data, region, branch, at)
        made += 1
