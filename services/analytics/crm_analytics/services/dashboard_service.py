"""The dashboards: each chart is one query over the event store, on the latest state of each
record (the ``records`` table, FINAL), so an event stored twice never counts twice. Money in tiyn (KZT),
times UTC. Only aggregates leave this module."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..access import may_rebuild, visible_filters
from ..db.store import RECORDS, EventStore, literal
from ..domain.dashboards import CHARTS, Filters, chart_section, filters, ratio
from ..domain.projection import ERASED_CUSTOMER_KEY

CUSTOMERS = "crm.sales.customer.v1"
LEADS = "crm.sales.lead.v1"
OPPORTUNITIES = "crm.sales.opportunity.v1"
ORDERS = "crm.orders.order.v1"
PRODUCTS = "crm.orders.installed_product.v1"
TICKETS = "crm.tickets.ticket.v1"
INCIDENTS = "crm.tickets.incident.v1"


def _time(moment: datetime) -> str:
    return f"toDateTime64({literal(moment.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3])}, 3, 'UTC')"


def records(store: EventStore, topic: str, f: Filters, *, product_line: bool = False) -> str:
    """The latest state of every record of ``topic`` (``records`` FINAL: one row per record, its
    highest version) within the region / branch / product line. Events that carry no record's
    state (no version: an erasure's ids, say) are no record."""
    where = [f"topic = {literal(topic)}", "record_version > 0"]
    if f.region_code:
        where.append(f"region_code = {literal(f.region_code)}")
    if f.branch_code:
        where.append(f"branch_code = {literal(f.branch_code)}")
    if product_line and f.product_line:
        where.append(f"product_line = {literal(f.product_line)}")
    return f"(SELECT * FROM {store.table(RECORDS)} FINAL WHERE {' AND '.join(where)})"


def _period(f: Filters, column: str = "created_at") -> str:
    return f"{column} >= {_time(f.start)} AND {column} < {_time(f.end)}"


def chart_sql(store: EventStore, name: str, f: Filters) -> str:
    p = _period(f)
    if name == "customers_by_region":
        return (
            f"SELECT region_code, countIf({p}) AS new, countIf(state = 'active' AND created_at < {_time(f.end)}) "
            f"AS active, countIf(state = 'inactive') AS inactive FROM {records(store, CUSTOMERS, f)} "
            "GROUP BY region_code ORDER BY region_code"
        )
    if name == "customers_by_kind":
        return f"SELECT kind, count() AS new FROM {records(store, CUSTOMERS, f)} WHERE {p} GROUP BY kind ORDER BY kind"
    if name == "customers_over_time":
        return (
            f"SELECT toString(toDate(created_at)) AS day, count() AS new FROM {records(store, CUSTOMERS, f)} "
            f"WHERE {p} GROUP BY day ORDER BY day"
        )
    if name == "pipeline_by_stage":
        return (
            f"SELECT state AS stage, count() AS opportunities, sum(amount_tiyn) AS amount_tiyn "
            f"FROM {records(store, OPPORTUNITIES, f, product_line=True)} WHERE {p} GROUP BY stage ORDER BY stage"
        )
    if name == "won_lost_by_region":
        closed = _period(f, "closed_at")
        return (
            "SELECT region_code, countIf(state = 'closed_won') AS won, countIf(state = 'closed_lost') AS lost, "
            "sumIf(amount_tiyn, state = 'closed_won') AS won_amount_tiyn "
            f"FROM {records(store, OPPORTUNITIES, f, product_line=True)} WHERE closed_at IS NOT NULL AND {closed} "
            "GROUP BY region_code ORDER BY region_code"
        )
    if name == "leads_by_source":
        return (
            "SELECT source, count() AS leads, countIf(state = 'converted') AS converted "
            f"FROM {records(store, LEADS, f, product_line=True)} WHERE {p} GROUP BY source ORDER BY source"
        )
    if name in ("revenue_by_product_line", "revenue_by_region"):
        key = "product_line" if name == "revenue_by_product_line" else "region_code"
        return (
            f"SELECT {key}, count() AS orders, countIf(state = 'completed') AS completed, "
            "sumIf(one_off_tiyn, state = 'completed') AS one_off_tiyn, "
            "sumIf(recurring_tiyn, state = 'completed') AS recurring_tiyn "
            f"FROM {records(store, ORDERS, f, product_line=True)} WHERE {p} GROUP BY {key} ORDER BY {key}"
        )
    if name == "orders_by_state":
        return (
            f"SELECT state, count() AS orders FROM {records(store, ORDERS, f, product_line=True)} "
            f"WHERE {p} GROUP BY state ORDER BY state"
        )
    if name == "installed_base_by_product_line":
        end = _time(f.end)
        terminated = _period(f, "terminated_at")
        return (
            "SELECT product_line, "
            f"countIf(created_at < {end} AND (terminated_at IS NULL OR terminated_at >= {end})) AS active, "
            f"countIf({p}) AS connected, countIf(terminated_at IS NOT NULL AND {terminated}) AS disconnected "
            f"FROM {records(store, PRODUCTS, f, product_line=True)} GROUP BY product_line ORDER BY product_line"
        )
    if name in ("tickets_by_region", "tickets_by_category"):
        key = "region_code" if name == "tickets_by_region" else "category"
        resolved = _period(f, "resolved_at")
        return (
            f"SELECT {key}, countIf({p}) AS opened, countIf(resolved_at IS NOT NULL AND {resolved}) AS resolved, "
            f"countIf(resolved_at IS NOT NULL AND {resolved} AND sla_state = 'met') AS sla_met, "
            f"countIf({p} AND sla_state = 'breached') AS breached, "
            f"sumIf(toUnixTimestamp64Milli(assumeNotNull(resolved_at)) - toUnixTimestamp64Milli(created_at), "
            f"resolved_at IS NOT NULL AND {resolved}) AS resolve_ms, "
            f"countIf({p} AND rating_score > 0) AS rated, sumIf(rating_score, {p} AND rating_score > 0) AS rating_sum, "
            f"countIf({p} AND rating_score >= 4) AS satisfied "
            f"FROM {records(store, TICKETS, f)} GROUP BY {key} ORDER BY {key}"
        )
    if name in ("campaign_events", "partner_events"):
        service = "marketing" if name == "campaign_events" else "partners"
        region = f" AND region_code = {literal(f.region_code)}" if f.region_code else ""
        branch = f" AND branch_code = {literal(f.branch_code)}" if f.branch_code else ""
        return (
            f"SELECT event_type, uniqExact(event_key) AS events FROM {store.table()} "
            f"WHERE topic LIKE {literal(f'crm.{service}.%')} AND {_period(f, 'occurred_at')}{region}{branch} "
            "GROUP BY event_type ORDER BY event_type"
        )
    raise KeyError(name)


def subscribers_sql(store: EventStore, f: Filters) -> str:
    """Customers, not products: those with a product active at ``to``, and those who had one
    disconnected in the period and none active at ``to`` (churned). Counted by pseudonymous key,
    which a merge moves to the survivor, so a merged person counts once; the shared erased key and
    products of no customer are no one."""
    end = _time(f.end)
    return (
        "SELECT countIf(active > 0) AS subscribers, countIf(active = 0 AND disconnected > 0) AS churned FROM ("
        f"SELECT customer_key, countIf(created_at < {end} AND (terminated_at IS NULL OR terminated_at >= {end})) "
        f"AS active, countIf(terminated_at IS NOT NULL AND {_period(f, 'terminated_at')}) AS disconnected "
        f"FROM {records(store, PRODUCTS, f, product_line=True)} "
        f"WHERE customer_key NOT IN ('', {literal(ERASED_CUSTOMER_KEY)}) GROUP BY customer_key)"
    )


# A record stays in one partition (its month of creation), so FINAL need not merge across
# partitions: each partition is deduplicated on its own, in parallel, which is what keeps FINAL fast.
FINAL_SETTINGS = " SETTINGS do_not_merge_across_partitions_select_final = 1"


async def chart(store: EventStore, name: str, f: Filters) -> dict[str, Any]:
    """One chart's table: {chart, columns, rows}."""
    columns, rows = await store.query(chart_sql(store, name, f) + FINAL_SETTINGS)
    return {"chart": name, "columns": columns, "rows": [[_plain(v) for v in row] for row in rows]}


async def overview(store: EventStore, f: Filters) -> dict[str, Any]:
    """Every section's figures and its charts' tables."""
    tables = {name: await chart(store, name, f) for name in CHARTS}
    rows = {name: [dict(zip(t["columns"], r, strict=True)) for r in t["rows"]] for name, t in tables.items()}

    def total(chart_name: str, column: str) -> int:
        return sum(int(r[column] or 0) for r in rows[chart_name])

    incidents = await store.query(
        f"SELECT count() FROM {records(store, INCIDENTS, f)} WHERE {_period(f)}{FINAL_SETTINGS}"
    )
    _, subscribers = await store.query(subscribers_sql(store, f) + FINAL_SETTINGS)
    subscribed, churned = (int(v) for v in subscribers[0]) if subscribers else (0, 0)
    resolved = total("tickets_by_region", "resolved")
    rated = total("tickets_by_region", "rated")
    installed_active = total("installed_base_by_product_line", "active")
    disconnected = total("installed_base_by_product_line", "disconnected")
    sections: dict[str, Any] = {
        "customers": {
            "new": total("customers_by_region", "new"),
            "active": total("customers_by_region", "active"),
            "inactive": total("customers_by_region", "inactive"),
        },
        "pipeline": {
            "opportunities": total("pipeline_by_stage", "opportunities"),
            "amount_tiyn": total("pipeline_by_stage", "amount_tiyn"),
            "won": total("won_lost_by_region", "won"),
            "lost": total("won_lost_by_region", "lost"),
            "won_amount_tiyn": total("won_lost_by_region", "won_amount_tiyn"),
            "leads": total("leads_by_source", "leads"),
        },
        "orders_revenue": {
            "orders": total("revenue_by_region", "orders"),
            "completed": total("revenue_by_region", "completed"),
            "one_off_tiyn": total("revenue_by_region", "one_off_tiyn"),
            "recurring_tiyn": total("revenue_by_region", "recurring_tiyn"),
            "currency": "KZT",
        },
        "installed_base": {
            "active": installed_active,
            "connected": total("installed_base_by_product_line", "connected"),
            "disconnected": disconnected,
            "churn_rate": ratio(disconnected, installed_active + disconnected),
            "subscribers": subscribed,
            "churned_subscribers": churned,
            "subscriber_churn_rate": ratio(churned, subscribed + churned),
        },
        "tickets": {
            "opened": total("tickets_by_region", "opened"),
            "resolved": resolved,
            "sla_met_ratio": ratio(total("tickets_by_region", "sla_met"), resolved),
            "breached": total("tickets_by_region", "breached"),
            "mean_hours_to_resolve": round(total("tickets_by_region", "resolve_ms") / resolved / 3_600_000, 2)
            if resolved
            else None,
            "mass_incidents": int(incidents[1][0][0]) if incidents[1] else 0,
            # customer satisfaction: the ratings customers gave their resolved tickets in the portal
            "csat_rated": rated,
            "csat_average_score": round(total("tickets_by_region", "rating_sum") / rated, 2) if rated else None,
            "csat_satisfied_ratio": ratio(total("tickets_by_region", "satisfied"), rated),
        },
        "campaigns": {"events": total("campaign_events", "events")},
        "partners": {"events": total("partner_events", "events")},
    }
    for name, section in CHARTS.items():
        sections[section].setdefault("charts", {})[name] = tables[name]
    return sections


def _plain(value: Any) -> Any:
    """JSONCompact gives 64-bit integers as strings; the answer gives numbers."""
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return value


def visible(principal, start, end, region_code, branch_code, product_line, now: datetime) -> Filters:
    """The request's filters as the caller may see them (access.py)."""
    return visible_filters(principal, filters(start, end, region_code, branch_code, product_line, now))


async def named_chart(store: EventStore, name: str, f: Filters) -> dict[str, Any]:
    chart_section(name)
    return await chart(store, name, f)


async def rebuild(principal, store: EventStore) -> None:
    may_rebuild(principal)
    await store.rebuild()
