"""The events of the tickets service: each payload is the record's full state after the change
(what the REST API answers with), written to the outbox in the caller's transaction.

crm.tickets.ticket.v1: created, updated, status_changed, assigned, note_added, incident_linked,
sla_at_risk, sla_breached, escalated. crm.tickets.incident.v1: created, resolved.
crm.tickets.interaction.v1: started, ended. crm.tickets.erasure.v1: confirmed (ids and counts only)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.customer_identity import ErasureNotice, erasure_confirmation
from crm_shared.outbox import EventWriter
from crm_shared.timefmt import iso

from ..db.models import Incident, Interaction, Note, Ticket

EVENTS = EventWriter("tickets")


def ticket_state(ticket: Ticket) -> dict[str, Any]:
    """The full state of a ticket: the REST body and the payload of every ticket event."""
    return {
        "id": ticket.id,
        "version": ticket.version,
        "name": ticket.name,
        "description": ticket.description,
        "customer_id": ticket.customer_id,
        "customer_name": ticket.customer_name,
        "customer_segment": ticket.customer_segment,
        "installed_product_id": ticket.installed_product_id,
        "category": ticket.category,
        "priority": ticket.priority,
        "severity": ticket.severity,
        "channel": ticket.channel,
        "location": ticket.location,
        "status": ticket.status,
        "status_change_reason": ticket.status_change_reason,
        "queue": ticket.queue,
        "branch_code": ticket.branch_code,
        "region_code": ticket.region_code,
        "assignee_id": ticket.assignee_id,
        "assignee_name": ticket.assignee_name,
        "opened_by": ticket.opened_by,
        "opened_by_name": ticket.opened_by_name,
        "incident_id": ticket.incident_id,
        "sla": {
            "policy": ticket.sla_policy,
            "response_due_at": iso(ticket.response_due_at),
            "resolution_due_at": iso(ticket.resolution_due_at),
            "first_response_at": iso(ticket.first_response_at),
            "paused_at": iso(ticket.paused_at),
            "response_state": ticket.response_state,
            "resolution_state": ticket.resolution_state,
            "escalation_level": ticket.escalation_level,
        },
        "resolved_at": iso(ticket.resolved_at),
        "closed_at": iso(ticket.closed_at),
        "rating": (
            {"score": ticket.rating_score, "comment": ticket.rating_comment, "rated_at": iso(ticket.rated_at)}
            if ticket.rating_score is not None
            else None
        ),
        "created_at": iso(ticket.created_at),
        "updated_at": iso(ticket.updated_at),
    }


def note_state(note: Note) -> dict[str, Any]:
    return {
        "id": note.id,
        "text": note.text,
        "visibility": note.visibility,
        "author_id": note.author_id,
        "author_name": note.author_name,
        "created_at": iso(note.created_at),
    }


def incident_state(incident: Incident, linked_tickets: int | None = None) -> dict[str, Any]:
    state = {
        "id": incident.id,
        "version": incident.version,
        "title": incident.title,
        "description": incident.description,
        "categories": incident_categories(incident),
        "region_code": incident.region_code,
        "branch_code": incident.branch_code,
        "area": incident.area,
        "severity": incident.severity,
        "status": incident.status,
        "external_reference": incident.external_reference,
        "owner_id": incident.owner_id,
        "owner_name": incident.owner_name,
        "expected_resolution_at": iso(incident.expected_resolution_at),
        "resolution": incident.resolution,
        "resolved_at": iso(incident.resolved_at),
        "created_at": iso(incident.created_at),
        "updated_at": iso(incident.updated_at),
    }
    if linked_tickets is not None:
        state["linked_tickets"] = linked_tickets
    return state


def incident_categories(incident: Incident) -> list[str]:
    return [c for c in incident.categories.split(",") if c]


def interaction_state(interaction: Interaction) -> dict[str, Any]:
    return {
        "id": interaction.id,
        "version": interaction.version,
        "customer_id": interaction.customer_id,
        "channel": interaction.channel,
        "direction": interaction.direction,
        "started_at": iso(interaction.started_at),
        "ended_at": iso(interaction.ended_at),
        "outcome": interaction.outcome,
        "summary": interaction.summary,
        "ticket_id": interaction.ticket_id,
        "agent_id": interaction.agent_id,
        "agent_name": interaction.agent_name,
        "branch_code": interaction.branch_code,
        "region_code": interaction.region_code,
    }


async def publish_ticket(
    session: AsyncSession, ticket: Ticket, action: str, extra: dict[str, Any] | None = None
) -> None:
    """``extra``: what the event tells besides the ticket's state (the previous status, the note
    added, the SLA signal or escalation)."""
    await EVENTS.add(
        session,
        aggregate="ticket",
        action=action,
        subject=ticket.id,
        data=ticket_state(ticket) | (extra or {}),
        region=ticket.region_code,
        branch=ticket.branch_code,
    )


async def publish_incident(
    session: AsyncSession, incident: Incident, action: str, linked_tickets: int, extra: dict[str, Any] | None = None
) -> None:
    await EVENTS.add(
        session,
        aggregate="incident",
        action=action,
        subject=incident.id,
        data=incident_state(incident, linked_tickets) | (extra or {}),
        region=incident.region_code,
        branch=incident.branch_code,
    )


async def publish_interaction(session: AsyncSession, interaction: Interaction, action: str) -> None:
    await EVENTS.add(
        session,
        aggregate="interaction",
        action=action,
        subject=interaction.id,
        data=interaction_state(interaction),
        region=interaction.region_code,
        branch=interaction.branch_code,
    )


async def publish_erasure_confirmed(session: AsyncSession, notice: ErasureNotice, records: dict[str, int]) -> None:
    """crm.tickets.erasure.confirmed: tickets anonymised its copies of an erased customer (sales
    collects it into the erasure request)."""
    await EVENTS.add(
        session,
        aggregate="erasure",
        action="confirmed",
        subject=notice.erasure_id,
        data=erasure_confirmation("tickets", notice, records),
    )
