"""Everything the tickets service holds about one customer, for the subject-access export that
sales assembles (crm.tickets.v1.PersonalDataService): tickets in every status with their notes
(internal ones too: the person has the right to know what is written about them), attachments,
relations, status history, SLA signals and audit history; the calls and visits logged
(interactions); the mass incidents its tickets were linked to; and the copy of its installed
products this service keeps. The shapes are the REST API's (times in UTC with Z)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.auth import Principal
from crm_shared.errors import field_problem
from crm_shared.models import AuditEntry
from crm_shared.timefmt import iso

from ..access import require_personal_data_exporter
from ..db.models import (
    Attachment,
    Incident,
    InstalledProduct,
    Interaction,
    Note,
    Relation,
    SlaSignal,
    StatusChange,
    Ticket,
)
from ..events.publishers import incident_state, interaction_state, note_state, ticket_state


def _by_ticket(rows, key: str = "ticket_id") -> dict[str, list]:
    grouped: dict[str, list] = defaultdict(list)
    for row in rows:
        grouped[getattr(row, key)].append(row)
    return grouped


async def export_customer_data(
    session: AsyncSession, principal: Principal, customer_id: str
) -> tuple[dict[str, Any], dict[str, int]]:
    """(the document, how many records of each kind it holds). A customer unknown here is an
    empty document: nothing is held."""
    require_personal_data_exporter(principal, customer_id)
    if not customer_id:
        raise field_problem("customer_id", "required")
    tickets = list(
        await session.scalars(
            select(Ticket).where(Ticket.customer_id == customer_id).order_by(Ticket.created_at, Ticket.id)
        )
    )
    ids = [t.id for t in tickets]
    notes = statuses = attachments = signals = relations = entries = []
    if ids:
        notes = list(await session.scalars(select(Note).where(Note.ticket_id.in_(ids)).order_by(Note.created_at)))
        statuses = list(
            await session.scalars(select(StatusChange).where(StatusChange.ticket_id.in_(ids)).order_by(StatusChange.id))
        )
        attachments = list(
            await session.scalars(
                select(Attachment).where(Attachment.ticket_id.in_(ids)).order_by(Attachment.created_at)
            )
        )
        signals = list(
            await session.scalars(select(SlaSignal).where(SlaSignal.ticket_id.in_(ids)).order_by(SlaSignal.id))
        )
        relations = list(
            await session.scalars(
                select(Relation).where(or_(Relation.ticket_id.in_(ids), Relation.related_ticket_id.in_(ids)))
            )
        )
        entries = list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.entity_type == "ticket", AuditEntry.entity_id.in_(ids))
                .order_by(AuditEntry.id)
            )
        )
    notes_of, statuses_of = _by_ticket(notes), _by_ticket(statuses)
    attachments_of, signals_of = _by_ticket(attachments), _by_ticket(signals)
    history_of = _by_ticket(entries, "entity_id")
    incident_ids = sorted({t.incident_id for t in tickets if t.incident_id})
    incidents = (
        list(await session.scalars(select(Incident).where(Incident.id.in_(incident_ids)).order_by(Incident.created_at)))
        if incident_ids
        else []
    )
    interactions = list(
        await session.scalars(
            select(Interaction)
            .where(Interaction.customer_id == customer_id)
            .order_by(Interaction.started_at, Interaction.id)
        )
    )
    products = list(
        await session.scalars(
            select(InstalledProduct).where(InstalledProduct.customer_id == customer_id).order_by(InstalledProduct.id)
        )
    )

    def ticket_document(ticket: Ticket) -> dict[str, Any]:
        return ticket_state(ticket) | {
            "notes": [note_state(n) for n in notes_of[ticket.id]],
            "attachments": [
                {
                    "id": a.id,
                    "name": a.name,
                    "media_type": a.media_type,
                    "size_bytes": a.size_bytes,
                    "url": a.url,
                    "added_by": a.added_by,
                    "created_at": iso(a.created_at),
                }
                for a in attachments_of[ticket.id]
            ],
            "relations": [
                {
                    "ticket_id": r.related_ticket_id if r.ticket_id == ticket.id else r.ticket_id,
                    "kind": r.kind,
                }
                for r in relations
                if ticket.id in (r.ticket_id, r.related_ticket_id)
            ],
            "status_history": [
                {
                    "from_status": s.from_status,
                    "to_status": s.to_status,
                    "reason": s.reason,
                    "actor_id": s.actor_id,
                    "actor_name": s.actor_name,
                    "at": iso(s.at),
                }
                for s in statuses_of[ticket.id]
            ],
            "sla_signals": [
                {
                    "kind": s.kind,
                    "cycle": s.cycle,
                    "escalated_to": s.escalated_to,
                    "due_at": iso(s.due_at),
                    "raised_at": iso(s.raised_at),
                }
                for s in signals_of[ticket.id]
            ],
            "history": [
                {
                    "at": iso(e.at),
                    "actor_id": e.actor_id,
                    "actor_name": e.actor_name,
                    "action": e.action,
                    "changes": e.changes,
                }
                for e in history_of[ticket.id]
            ],
        }

    document = {
        "tickets": [ticket_document(t) for t in tickets],
        "interactions": [interaction_state(i) for i in interactions],
        "incidents": [incident_state(i) for i in incidents],
        "installed_products": [
            {
                "id": p.id,
                "offering_id": p.offering_id,
                "offering_name": p.offering_name,
                "product_line": p.product_line,
                "status": p.status,
                "service_address": p.service_address,
                "branch_code": p.branch_code,
                "region_code": p.region_code,
                "activated_at": iso(p.activated_at),
                "terminated_at": iso(p.terminated_at),
            }
            for p in products
        ],
    }
    counts = {
        "tickets": len(tickets),
        "notes": len(notes),
        "attachments": len(attachments),
        "interactions": len(interactions),
        "incidents": len(incidents),
        "installed_products": len(products),
    }
    return document, counts
