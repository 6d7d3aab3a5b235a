"""Synthetic rows made inside ClickHouse (INSERT ... SELECT FROM numbers(N)), for the benchmark's
tens of millions of events: the same columns and value ranges as the ingested events of the
services (customers, orders, installed products, opportunities, tickets), without Python per row."""

from __future__ import annotations

from typing import Any

from ..db.store import EventStore

REGIONS = ("KZ-75", "KZ-35", "KZ-71", "KZ-11", "KZ-15", "KZ-19", "KZ-23", "KZ-27", "KZ-31", "KZ-39")


def _pick(values: tuple[str, ...], seed: str) -> str:
    array = "[" + ", ".join(f"'{v}'" for v in values) + "]"
    return f"{array}[({seed}) % {len(values)} + 1]"


async def load_synthetic(store: Any, count: int, *, days: int = 365, chunk: int = 5_000_000) -> int:
    """Adds ``count`` synthetic event rows spread over ``days`` days from 2026-01-01."""
    assert isinstance(store, EventStore)
    topics = (
        "crm.sales.customer.v1",
        "crm.orders.order.v1",
        "crm.orders.installed_product.v1",
        "crm.sales.opportunity.v1",
        "crm.tickets.ticket.v1",
    )
    aggregates = ("customer", "order", "installed_product", "opportunity", "ticket")
    done = 0
    while done < count:
        size = min(chunk, count - done)
        n = f"(number + {done})"
        kind = f"({n} % 5)"
        created = (
            f"toDateTime64('2026-01-01 00:00:00', 3, 'UTC') + toIntervalSecond(cityHash64({n}, 1) % {days * 86400})"
        )
        state = (
            f"multiIf({kind} = 0, 'active', {kind} = 1, {_pick(('completed', 'completed', 'in_progress', 'cancelled'), f'cityHash64({n}, 2)')}, "
            f"{kind} = 2, if(cityHash64({n}, 3) % 10 = 0, 'terminated', 'active'), "
            f"{kind} = 3, {_pick(('prospecting', 'proposal', 'closed_won', 'closed_lost'), f'cityHash64({n}, 4)')}, "
            f"if(cityHash64({n}, 5) % 10 < 7, 'resolved', 'in_progress'))"
        )
        region = _pick(REGIONS, f"cityHash64({n}, 6)")
        sql = f"""
INSERT INTO {{events}} (event_key, event_type, topic, aggregate, record_key, record_version, occurred_at,
  created_at, resolved_at, closed_at, terminated_at, completed_at, region_code, branch_code, product_line,
  offering_id, customer_key, state, kind, source, channel, category, priority, severity, sla_state,
  amount_tiyn, one_off_tiyn, recurring_tiyn)
SELECT toString(cityHash64({n}, 'e')), concat(topic, '.created'), topic, aggregate, toString(cityHash64({n}, 'r')), 1,
  created, created,
  if({kind} = 4 AND state = 'resolved', created + toIntervalHour(cityHash64({n}, 7) % 72), NULL),
  if({kind} = 3 AND state IN ('closed_won', 'closed_lost'), created + toIntervalDay(5), NULL),
  if({kind} = 2 AND state = 'terminated', created + toIntervalDay(20), NULL),
  NULL, region, concat(substring(region, 4, 2), '-0', toString(cityHash64({n}, 8) % 4 + 1)),
  {_pick(("internet", "tv", "mobile", "fixed_line", "bundle"), f"cityHash64({n}, 9)")}, '',
  toString(cityHash64({n} % 2000000, 'c')), state,
  if({kind} = 0, if(cityHash64({n}, 10) % 5 = 0, 'business', 'individual'), ''), '', '',
  if({kind} = 4, {_pick(("internet", "tv", "mobile", "billing"), f"cityHash64({n}, 11)")}, ''), '', '',
  if({kind} = 4 AND state = 'resolved', if(cityHash64({n}, 12) % 4 = 0, 'breached', 'met'), ''),
  if({kind} = 3, cityHash64({n}, 13) % 50000000, 0), if({kind} = 1, cityHash64({n}, 14) % 5000000, 0),
  if({kind} IN (1, 2), cityHash64({n}, 15) % 2000000, 0)
FROM (SELECT number, {_pick(topics, f"(number + {done}) % 5")} AS topic, {_pick(aggregates, f"(number + {done}) % 5")} AS aggregate,
  {created} AS created, {state} AS state, {region} AS region FROM numbers({size}))
"""
        # into events; the store's materialized view copies them into records
        await store.execute(sql.replace("INSERT INTO {events}", f"INSERT INTO {store.table('events')}"))
        done += size
    return done
