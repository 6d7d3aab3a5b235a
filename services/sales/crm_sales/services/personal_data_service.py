"""The subject-access export: one JSON document with everything the suite holds about a person
(the Kazakhstan personal-data law, No. 94-V, gives the person the right to know what is held).

Sales holds the customer, its consents and their history, the change history, the audited reads
(who looked the person up by IIN, hit them as a duplicate, exported them), the records merged into
it and the pipeline about it (leads converted to it or with its phone or e-mail, opportunities,
activities). Every other service that holds personal data answers ExportCustomerData over gRPC
(``crm.<service>.v1.PersonalDataService``, through ``crm_shared.clients``), asked with the
identity of the person exporting, so that each service checks the role itself. The sources are
asked at once; if one does not answer, the whole export is a 503 naming it: never a partial
document presented as complete. A new service that holds personal data (marketing, loyalty,
partners) is one more client in sales' ServiceDefinition and in ``personal_data_sources``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.audit import history
from crm_shared.auth import Principal, Role
from crm_shared.clients.personal_data import ServiceExport
from crm_shared.db import Database
from crm_shared.errors import Problem
from crm_shared.models import AuditEntry
from crm_shared.timefmt import iso

from ..access import masked_customer, require_privacy_officer
from ..db.models import Customer
from ..db.pipeline_models import Activity, Lead, Opportunity
from ..domain.pipeline import RelatedType
from ..events.publishers import activity_state, customer_state, lead_state, opportunity_state
from . import access_audit_service
from .activity_service import NOWHERE, placements_of
from .customer_service import ENTITY, get_visible_customer

FORMAT = "qazaq-crm.personal-data/1"
CONSENTS = ("data_processing_consent", "marketing_consent")
MAX_HISTORY = 10_000


class PersonalDataSource(Protocol):
    """Another service's client answering what it holds about a customer (crm_shared.clients)."""

    service: str

    async def export(self, principal: Principal, customer_id: str) -> ServiceExport: ...


def _entry(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": iso(entry.at),
        "actor_id": entry.actor_id,
        "actor_name": entry.actor_name,
        "action": entry.action,
        "changes": entry.changes,
        "operation_id": entry.operation_id,
    }


def _consents(customer: Customer, entries: Sequence[AuditEntry]) -> list[dict[str, Any]]:
    """Each consent as it stands now, with every change of it (from the audit: who, when)."""
    consents = []
    for field in CONSENTS:
        changes = [
            {"at": iso(e.at), "actor_id": e.actor_id, "actor_name": e.actor_name, "given": e.changes[field][1]}
            for e in entries
            if isinstance(e.changes.get(field), list) and len(e.changes[field]) == 2
        ]
        consents.append(
            {
                "purpose": field.removesuffix("_consent"),
                "given": getattr(customer, field),
                "given_at": iso(getattr(customer, f"{field}_at")),
                "history": changes,
            }
        )
    return consents


async def _pipeline(session: AsyncSession, customer: Customer, ids: Sequence[str]) -> tuple[dict[str, Any], int]:
    phones = [p.e164 for p in customer.phones]
    matches = [Lead.customer_id.in_(ids)]
    if phones:
        matches.append(Lead.phone.in_(phones))
    if customer.email:
        matches.append(Lead.email == customer.email)
    leads = list(await session.scalars(select(Lead).where(or_(*matches)).order_by(Lead.created_at, Lead.id)))
    opportunities = list(
        await session.scalars(
            select(Opportunity).where(Opportunity.customer_id.in_(ids)).order_by(Opportunity.created_at)
        )
    )
    related = {
        RelatedType.CUSTOMER: list(ids),
        RelatedType.LEAD: [lead.id for lead in leads],
        RelatedType.OPPORTUNITY: [o.id for o in opportunities],
    }
    activities = list(
        await session.scalars(
            select(Activity)
            .where(
                or_(
                    *(
                        and_(Activity.related_type == str(kind), Activity.related_id.in_(rids))
                        for kind, rids in related.items()
                        if rids
                    )
                )
            )
            .order_by(Activity.created_at, Activity.id)
        )
    )
    placements = await placements_of(session, activities)

    def matched_by(lead: Lead) -> str:
        if lead.customer_id in ids:
            return "converted"
        return "phone" if lead.phone in phones else "email"

    document = {
        "leads": [lead_state(lead) | {"matched_by": matched_by(lead)} for lead in leads],
        "opportunities": [opportunity_state(o) for o in opportunities],
        "activities": [activity_state(a, placements.get((a.related_type, a.related_id), NOWHERE)) for a in activities],
    }
    return document, len(leads) + len(opportunities) + len(activities)


async def _gather(
    principal: Principal, customer_id: str, sources: Sequence[PersonalDataSource]
) -> dict[str, ServiceExport]:
    """Every source's export, asked at once; a 503 naming every source that did not answer."""
    answers = await asyncio.gather(*(s.export(principal, customer_id) for s in sources), return_exceptions=True)
    for answer in answers:
        if isinstance(answer, BaseException) and not isinstance(answer, Problem):
            raise answer
    failed = [(s.service, a) for s, a in zip(sources, answers, strict=True) if isinstance(a, Problem)]
    refused = [problem for _, problem in failed if problem.status != 503]
    if refused:
        raise refused[0]
    if failed:
        names = [service for service, _ in failed]
        raise Problem(
            503,
            "Service unavailable",
            f"{', '.join(names)} did not answer: the personal-data export would be incomplete, so none is given; "
            "try again shortly",
            headers={"Retry-After": "5"},
            service=names[0],
            services=names,
        )
    return {s.service: a for s, a in zip(sources, answers, strict=True)}


async def export_personal_data(
    db: Database,
    principal: Principal,
    customer_id: str,
    sources: Sequence[PersonalDataSource],
    *,
    now: datetime,
) -> dict[str, Any]:
    """The whole document (administrators and privacy officers; a customer their own). Sales' records are read and
    the session closed before the other services are asked, so that no transaction (on SQLite, no
    database lock) is held while they answer; a complete export is then audited under the
    customer (access_audit_service) in a short transaction of its own."""
    if principal.role is not Role.CUSTOMER:  # a customer exports their own (Scope.SELF: any other is a 404)
        require_privacy_officer(principal, "exporting a person's data")
    async with db.read_only() as session:
        customer = await get_visible_customer(session, principal, customer_id)
        merged = list(
            await session.scalars(select(Customer).where(Customer.merged_into_id == customer.id).order_by(Customer.id))
        )
        ids = [customer.id, *(m.id for m in merged)]
        changes = [e for i in ids for e in await history(session, ENTITY, i, limit=MAX_HISTORY)]
        changes.sort(key=lambda e: e.id)
        accessed = await access_audit_service.access_log(session, ids)
        pipeline, pipeline_count = await _pipeline(session, customer, ids)
        sales_part = {
            "customer": masked_customer(customer_state(customer), principal),
            "consents": _consents(customer, [e for e in changes if e.entity_id == customer.id]),
            "history": [_entry(e) for e in changes],
            "access_log": [_entry(e) for e in accessed],
            "merged_records": [customer_state(m) for m in merged],
            "sales": pipeline,
        }
    others = await _gather(principal, customer_id, sources)

    services: dict[str, Any] = {
        "sales": {
            "status": "complete",
            "generated_at": iso(now),
            "record_counts": {
                "customers": len(ids),
                "history_entries": len(changes),
                "access_log_entries": len(accessed),
                "pipeline_records": pipeline_count,
            },
        }
    }
    for name, answer in others.items():
        services[name] = {
            "status": "complete",
            "generated_at": iso(answer.generated_at),
            "record_counts": answer.record_counts,
        }
    async with db.unit_of_work() as audit:
        access_audit_service.record_export(audit, principal, customer_id, list(services))
    return {
        "format": FORMAT,
        "generated_at": iso(now),
        "generated_by": {"id": principal.subject, "name": principal.display_name, "role": principal.role.value},
        **sales_part,
        **{name: answer.document for name, answer in others.items()},
        "services": services,
    }
