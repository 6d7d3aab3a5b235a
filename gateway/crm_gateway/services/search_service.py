"""One search box over the suite (GET /api/v1/search): the text goes to the services' own searches
as the caller, so each service applies its own visibility and masking, and the answers come back
as one list of {type, id, title, subtitle}. A ticket or order number (crm_shared.search) goes to
tickets' and orders' lists; anything else (a name, phone, IIN/BIN, e-mail) to sales' customers.

A service that refuses the caller (403; for an API key, one whose read scope it lacks) or the
text (422) adds nothing; a caller over its budget of look-ups by IIN/BIN gets sales' 429; one that cannot be
reached is named in ``unavailable`` and the others still answer. When every service refuses the
text, so does the search (a 422 naming ``q``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from crm_shared.auth import Principal, Role
from crm_shared.errors import Problem, field_problem
from crm_shared.search import record_number

from ..domain.api_keys import required_scope
from ..upstream import Upstreams

NUMBER_LENGTH = 8  # the console shows a ticket or an order by the first characters of its id


def _join(*parts: Any) -> str:
    return " · ".join(str(part) for part in parts if part)


def customer_item(customer: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "customer",
        "id": customer["id"],
        "title": customer.get("display_name") or "",
        # as the service answered it: the identifier is masked for the roles that see it masked
        "subtitle": _join(
            customer.get("iin") or customer.get("bin"),
            customer.get("primary_phone"),
            customer.get("email"),
            customer.get("branch_code"),
        ),
        "status": customer.get("status"),
    }


def ticket_item(ticket: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "ticket",
        "id": ticket["id"],
        "title": _join(f"#{ticket['id'][:NUMBER_LENGTH]}", ticket.get("name")),
        "subtitle": _join(ticket.get("customer_name"), ticket.get("branch_code")),
        "status": ticket.get("status"),
        "customer_id": ticket.get("customer_id"),
    }


def order_item(order: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "order",
        "id": order["id"],
        "title": f"#{order['id'][:NUMBER_LENGTH]}",
        "subtitle": _join(order.get("customer_name"), order.get("branch_code")),
        "status": order.get("state"),
        "customer_id": order.get("customer_id"),
    }


@dataclass(frozen=True)
class Source:
    """One service's search: the service, its list path, how one of its records is shown, and
    whether it is asked for a record number (tickets, orders) or for anything else (customers)."""

    service: str
    kind: str
    path: str
    item: Callable[[dict[str, Any]], dict[str, Any]]
    finds_numbers: bool


SOURCES = (
    Source("sales", "customer", "/api/v1/sales/customers", customer_item, finds_numbers=False),
    Source("tickets", "ticket", "/api/v1/tickets/tickets", ticket_item, finds_numbers=True),
    Source("orders", "order", "/api/v1/orders/orders", order_item, finds_numbers=True),
)
REFUSALS = {401, 403, 404, 422}


async def search(upstreams: Upstreams, principal: Principal, request_id: str, q: str, *, limit: int) -> dict[str, Any]:
    is_number = record_number(q) is not None
    sources = [
        source
        for source in SOURCES
        if source.service in upstreams.base_urls
        # a ticket or order number goes to tickets and orders; a name, phone, IIN/BIN or e-mail to
        # sales (each service is asked only what it can answer: one search costs one look-up)
        and source.finds_numbers == is_number
        # an API key searches only the services it may read, as its forwarded requests would
        and (principal.role is not Role.SYSTEM or principal.has_scope(required_scope(source.service, "GET")))
    ]
    answers = await asyncio.gather(
        *(
            upstreams.get_json(source.service, source.path, {"q": q, "limit": limit}, principal, request_id)
            for source in sources
        )
    )
    items: list[dict[str, Any]] = []
    unavailable: list[str] = []
    refused_text: list[str] = []
    for source, (status, body) in zip(sources, answers):
        if status == 429:  # the caller's budget of look-ups by IIN/BIN: theirs to know, not an outage
            raise _too_many(body)
        if status == 200 and isinstance(body, dict):
            items += [source.item(record) for record in body.get("items", [])]
        elif status == 422:
            refused_text.append(_problem_message(body))
        elif status not in REFUSALS:
            unavailable.append(source.service)
    if sources and len(refused_text) == len(sources):
        raise field_problem("q", refused_text[0])
    return {"items": items, "unavailable": unavailable}


def _too_many(body: Any) -> Problem:
    detail = body.get("detail") if isinstance(body, dict) else None
    wait = body.get("retry_after_s") if isinstance(body, dict) else None
    wait = wait if isinstance(wait, int) and wait > 0 else 60
    return Problem(
        429, "Too many requests", detail or "too many look-ups", headers={"Retry-After": str(wait)}, retry_after_s=wait
    )


def _problem_message(body: Any) -> str:
    if isinstance(body, dict):
        for error in body.get("errors") or []:
            if error.get("field") == "q":
                return error.get("message") or "cannot be searched"
    return "cannot be searched"
