"""One search box over the suite (GET /api/v1/search): the text goes to each service's own search
(sales' customers, tickets', orders') as the caller, so each service applies its own visibility
and masking, and the answers come back as one list of {type, id, title, subtitle}.

A service that refuses the caller (403; for an API key, one whose read scope it lacks) or the
text (422) adds nothing; one that cannot be
reached is named in ``unavailable`` and the others still answer. When every service refuses the
text, so does the search (a 422 naming ``q``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from crm_shared.auth import Principal, Role
from crm_shared.errors import field_problem

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
    """One service's search: the service, its list path and how one of its records is shown."""

    service: str
    kind: str
    path: str
    item: Callable[[dict[str, Any]], dict[str, Any]]


SOURCES = (
    Source("sales", "customer", "/api/v1/sales/customers", customer_item),
    Source("tickets", "ticket", "/api/v1/tickets/tickets", ticket_item),
    Source("orders", "order", "/api/v1/orders/orders", order_item),
)
REFUSALS = {401, 403, 404, 422}


async def search(upstreams: Upstreams, principal: Principal, request_id: str, q: str, *, limit: int) -> dict[str, Any]:
    sources = [
        source
        for source in SOURCES
        if source.service in upstreams.base_urls
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
        if status == 200 and isinstance(body, dict):
            items += [source.item(record) for record in body.get("items", [])]
        elif status == 422:
            refused_text.append(_problem_message(body))
        elif status not in REFUSALS:
            unavailable.append(source.service)
    if sources and len(refused_text) == len(sources):
        raise field_problem("q", refused_text[0])
    return {"items": items, "unavailable": unavailable}


def _problem_message(body: Any) -> str:
    if isinstance(body, dict):
        for error in body.get("errors") or []:
            if error.get("field") == "q":
                return error.get("message") or "cannot be searched"
    return "cannot be searched"
