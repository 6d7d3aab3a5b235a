"""The partners service's events, each written through the outbox in the caller's transaction:
crm.partners.partner.v1 (a partner's state, without contacts and bank details), crm.partners.deal.v1
(deals and decisions: ids and amounts, no personal data) and crm.partners.erasure.v1 (erasure
confirmations). Contracts: contracts/crm_contracts/events/."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.customer_identity import ErasureNotice, erasure_confirmation
from crm_shared.outbox import EventWriter
from crm_shared.timefmt import iso

from ..db.models import CommissionLine, Deal, Dispute, Partner

SERVICE = "partners"
EVENTS = EventWriter(SERVICE)


def partner_state(partner: Partner) -> dict[str, Any]:
    """The partner as JSON-ready values without contacts and bank details (the event payload)."""
    return {
        "id": partner.id,
        "name": partner.name,
        "bin": partner.bin,
        "kind": partner.kind,
        "status": partner.status,
        "region_codes": list(partner.region_codes),
        "branch_codes": list(partner.branch_codes),
        "contract_start": partner.contract_start.isoformat() if partner.contract_start else None,
        "contract_end": partner.contract_end.isoformat() if partner.contract_end else None,
        "commission_plan": dict(partner.commission_plan),
        "version": partner.version,
        "created_at": iso(partner.created_at),
        "updated_at": iso(partner.updated_at),
    }


def partner_view(partner: Partner) -> dict[str, Any]:
    """The API's answer: the state and the contacts and bank details."""
    return partner_state(partner) | {
        "contacts": list(partner.contacts),
        "bank_details": partner.bank_details,
    }


def deal_state(deal: Deal) -> dict[str, Any]:
    return {
        "id": deal.id,
        "partner_id": deal.partner_id,
        "status": deal.status,
        "customer_id": deal.customer_id,
        "lead_id": deal.lead_id,
        "offering_ids": list(deal.offering_ids),
        "expected_value_tiyn": deal.expected_value_tiyn,
        "decision_reason": deal.decision_reason,
        "created_at": iso(deal.created_at),
        "updated_at": iso(deal.updated_at),
        "decided_at": iso(deal.decided_at) if deal.decided_at else None,
    }


def deal_view(deal: Deal) -> dict[str, Any]:
    return deal_state(deal) | {"customer": dict(deal.customer), "version": deal.version}


def line_view(line: CommissionLine) -> dict[str, Any]:
    return {
        "id": line.id,
        "partner_id": line.partner_id,
        "customer_id": line.customer_id,
        "order_id": line.order_id,
        "offering_id": line.offering_id,
        "kind": line.kind,
        "status": line.status,
        "amount_tiyn": line.amount_tiyn,
        "period": line.period,
        "accrued_at": iso(line.accrued_at),
        "confirmed_at": iso(line.confirmed_at) if line.confirmed_at else None,
    }


def dispute_view(dispute: Dispute) -> dict[str, Any]:
    return {
        "id": dispute.id,
        "partner_id": dispute.partner_id,
        "period": dispute.period,
        "line_id": dispute.line_id,
        "text": dispute.text,
        "status": dispute.status,
        "resolution": dispute.resolution,
        "created_at": iso(dispute.created_at),
        "resolved_at": iso(dispute.resolved_at) if dispute.resolved_at else None,
    }


async def publish_partner(session: AsyncSession, action: str, partner: Partner) -> None:
    await EVENTS.add(session, aggregate="partner", action=action, subject=partner.id, data=partner_state(partner))


async def publish_deal(session: AsyncSession, action: str, deal: Deal) -> None:
    await EVENTS.add(session, aggregate="deal", action=action, subject=deal.id, data=deal_state(deal))


async def publish_erasure_confirmed(session: AsyncSession, notice: ErasureNotice, records: dict[str, int]) -> None:
    await EVENTS.add(
        session,
        aggregate="erasure",
        action="confirmed",
        subject=notice.erasure_id,
        data=erasure_confirmation(SERVICE, notice, records),
    )
