"""Pure rules of the deliveries: the signature, the retry schedule, which callback addresses are
refused, which events a subscriber may receive and how they are masked, and the TM Forum hub's
event names."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from crm_shared.domain import InvalidField

SIGNATURE_HEADER = "X-CRM-Signature"
TIMESTAMP_HEADER = "X-CRM-Timestamp"
EVENT_ID_HEADER = "X-CRM-Event-Id"
CONTENT_TYPE = "application/cloudevents+json"

# TMF hub: the API's event names -> the CRM's event types they stand for.
TMF_EVENTS: dict[str, dict[str, tuple[str, ...]]] = {
    "troubleTicket": {
        "TroubleTicketCreateEvent": ("crm.tickets.ticket.created",),
        "TroubleTicketStateChangeEvent": ("crm.tickets.ticket.status_changed",),
        "TroubleTicketStatusChangeEvent": ("crm.tickets.ticket.status_changed",),
        "TroubleTicketAttributeValueChangeEvent": (
            "crm.tickets.ticket.updated",
            "crm.tickets.ticket.assigned",
            "crm.tickets.ticket.note_added",
        ),
        "TroubleTicketResolvedEvent": ("crm.tickets.ticket.status_changed",),
    },
    "productOrderingManagement": {
        "ProductOrderCreateEvent": ("crm.orders.order.created",),
        "ProductOrderStateChangeEvent": ("crm.orders.order.state_changed", "crm.orders.order.completed"),
    },
    "productInventory": {
        "ProductCreateEvent": ("crm.orders.installed_product.created",),
        "ProductAttributeValueChangeEvent": ("crm.orders.installed_product.changed",),
        "ProductStateChangeEvent": ("crm.orders.installed_product.changed", "crm.orders.installed_product.terminated"),
        "ProductDeleteEvent": ("crm.orders.installed_product.terminated",),
    },
}
# The resource each API's notification names, and where its href points.
TMF_RESOURCES = {
    "troubleTicket": ("troubleTicket", "/tmf-api/troubleTicket/v4/troubleTicket"),
    "productOrderingManagement": ("productOrder", "/tmf-api/productOrderingManagement/v4/productOrder"),
    "productInventory": ("product", "/tmf-api/productInventory/v4/product"),
}
_TWELVE_DIGITS = re.compile(r"(?<!\d)\d{8}(\d{4})(?!\d)")


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 over ``<timestamp>.<body>`` with the subscription's secret, as the header
    carries it: ``t=<timestamp>,v1=<hex>``."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, now: int, window_s: int) -> bool:
    """What a receiver does (docs/integration.md): the signature matches and is recent."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > window_s:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), f"t={timestamp},v1={parts.get('v1', '')}")


def retry_delay_s(attempts: int, base_s: float, max_s: float) -> float:
    """After the ``attempts``-th failure: base, 2 base, 4 base, ... at most max."""
    return min(max_s, base_s * 2 ** max(0, attempts - 1))


def callback_host(url: str, field: str = "url") -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidField(field, "an absolute http(s) URL")
    if parts.username or parts.password:
        raise InvalidField(field, "no credentials in the URL; the signature authenticates the sender")
    return parts.hostname


def refused_address(address: str) -> bool:
    """Loopback, private, link-local, multicast, reserved or unspecified: never a callback in
    production (server-side request forgery into the operator's own network)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def check_event_types(event_types: Iterable[str], known: set[str], field: str = "event_types") -> list[str]:
    wanted = list(dict.fromkeys(event_types))
    if not wanted:
        raise InvalidField(field, "at least one event type")
    for index, name in enumerate(wanted):
        if name not in known:
            raise InvalidField(f"{field}[{index}]", f"unknown event type {name[:100]!r}")
    return wanted


def hub_event_types(api: str, query: str | None) -> list[str]:
    """The CRM event types a TMF hub ``query`` asks for (``eventType=A,B`` or ``eventType=A&eventType=B``;
    none: every event of the API)."""
    names = TMF_EVENTS[api]
    asked: list[str] = []
    for key, values in parse_qs(query or "", keep_blank_values=True).items():
        if key != "eventType":
            raise InvalidField("query", f"only eventType=... is supported, not {key[:40]!r}")
        asked.extend(v.strip() for value in values for v in value.split(",") if v.strip())
    if not asked:
        asked = list(names)
    folded = {name.casefold(): name for name in names}
    types: list[str] = []
    for name in asked:
        if name.casefold() not in folded:
            raise InvalidField("query", f"unknown eventType {name[:80]!r}; one of {', '.join(names)}")
        types.extend(names[folded[name.casefold()]])
    return list(dict.fromkeys(types))


def tmf_event_name(api: str, event_type: str) -> str:
    return next(name for name, types in TMF_EVENTS[api].items() if event_type in types)


def may_receive(subscriber_scope: str, region: str | None, branch: str | None, event_region, event_branch) -> bool:
    """A subscriber receives the events of the records it may see: the whole country, its region
    or its branch (an event without a place is national)."""
    if subscriber_scope == "national":
        return True
    if subscriber_scope == "region":
        return event_region is not None and event_region == region
    if subscriber_scope == "branch":
        return event_branch is not None and event_branch == branch
    return False


def masked(value: Any) -> Any:
    """The payload with every twelve-digit run (an IIN or BIN) reduced to its last four digits and
    birth dates to the year, for subscribers that see identifiers masked."""
    if isinstance(value, dict):
        return {k: (v[:4] if k == "birth_date" and isinstance(v, str) else masked(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    if isinstance(value, str):
        return _TWELVE_DIGITS.sub(lambda m: "********" + m.group(1), value)
    return value
