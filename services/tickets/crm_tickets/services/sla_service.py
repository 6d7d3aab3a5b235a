"""The SLA scan (the use case the scheduler, crm_tickets.background.SlaScheduler, runs every
interval): finds tickets about to breach and breached ones, escalates them (branch manager, then
regional manager) and emits events.

Each pass takes the tickets whose ``sla_check_at`` has come, in batches, oldest first, each
batch in one transaction with ``FOR UPDATE SKIP LOCKED`` (several schedulers share the work;
a ticket being changed by a request waits for the next pass). A scheduler that fell behind
simply has more batches; a long-overdue ticket gets every signal due in one go. A signal is
raised once per ticket, kind and SLA cycle (the unique key of ``sla_signals`` and the ticket's
own state say it was raised), so a restart never escalates twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.db import Database
from crm_shared.records import mark_changed

from ..db.models import SlaSignal, Ticket
from ..domain import sla
from ..domain.workflow import RUNNING_STATUSES
from ..events.publishers import publish_ticket
from .ticket_service import refresh_clock_columns, sla_view

ESCALATION_LEVEL = {"escalated_1": 1, "escalated_2": 2}
ESCALATED_TO = {"escalated_1": "branch_manager", "escalated_2": "regional_manager"}


@dataclass
class PassResult:
    tickets: int = 0
    signals: int = 0
    batches: int = 0


def _insert_signals(dialect: str, rows: list[dict]):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return (
        insert(SlaSignal)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["ticket_id", "cycle", "kind"])
        .returning(SlaSignal.ticket_id, SlaSignal.kind)
    )


async def apply_signals(session: AsyncSession, tickets: list[Ticket], now: datetime) -> int:
    """Raises every signal due on ``tickets`` in three statements' worth of round trips: one
    INSERT of all the signals (a signal already there was raised before, by a scheduler that
    stopped before updating its ticket: it is applied but not announced again), one flush of the
    changed tickets, and the events, which carry each ticket's state after the flush."""
    due = {ticket.id: sla.signals_due(sla_view(ticket), now) for ticket in tickets}
    rows = [
        {
            "ticket_id": ticket.id,
            "cycle": ticket.sla_cycle,
            "kind": signal.kind,
            "escalated_to": ESCALATED_TO.get(signal.kind),
            "due_at": signal.due_at,
            "raised_at": now,
        }
        for ticket in tickets
        for signal in due[ticket.id]
    ]
    if not rows:
        for ticket in tickets:
            refresh_clock_columns(ticket)
        return 0
    inserted = set((await session.execute(_insert_signals(session.bind.dialect.name, rows))).tuples())
    announced: list[tuple[Ticket, sla.Signal]] = []
    for ticket in tickets:
        for signal in due[ticket.id]:
            _apply(ticket, signal)
        raised = [signal for signal in due[ticket.id] if (ticket.id, signal.kind) in inserted]
        if raised:
            mark_changed(ticket, now)
            announced.extend((ticket, signal) for signal in raised)
        refresh_clock_columns(ticket)
    await session.flush()
    for ticket, signal in announced:
        if signal.kind in ESCALATION_LEVEL:
            await publish_ticket(
                session,
                ticket,
                "escalated",
                {
                    "escalation": {
                        "level": ESCALATION_LEVEL[signal.kind],
                        "escalated_to": ESCALATED_TO[signal.kind],
                        "due_at": signal.due_at.isoformat(),
                        "at": now.isoformat(),
                    }
                },
            )
        else:
            action = "sla_breached" if signal.kind.endswith("breached") else "sla_at_risk"
            await publish_ticket(
                session,
                ticket,
                action,
                {
                    "sla_signal": {
                        "target": signal.target,
                        "kind": signal.kind,
                        "due_at": signal.due_at.isoformat(),
                        "at": now.isoformat(),
                    }
                },
            )
    return len(announced)


def _apply(ticket: Ticket, signal: sla.Signal) -> None:
    if signal.kind in ESCALATION_LEVEL:
        ticket.escalation_level = max(ticket.escalation_level, ESCALATION_LEVEL[signal.kind])
    elif signal.target == "response":
        ticket.response_state = "breached" if signal.kind.endswith("breached") else "at_risk"
    else:
        ticket.resolution_state = "breached" if signal.kind.endswith("breached") else "at_risk"


async def scan_once(db: Database, now: datetime, *, batch_size: int = 500) -> PassResult:
    """One pass over every ticket whose check time has come by ``now``; each batch is its own
    unit of work, so a long pass commits as it goes."""
    result = PassResult()
    while True:
        async with db.unit_of_work() as session:
            stmt = (
                select(Ticket)
                .where(
                    Ticket.sla_check_at <= now,
                    Ticket.status.in_([s.value for s in RUNNING_STATUSES]),
                    Ticket.paused_at.is_(None),
                )
                .order_by(Ticket.sla_check_at)
                .limit(batch_size)
            )
            if db.is_postgres:
                stmt = stmt.with_for_update(skip_locked=True)
            tickets = list(await session.scalars(stmt))
            result.signals += await apply_signals(session, tickets, now)
        result.tickets += len(tickets)
        result.batches += 1
        if len(tickets) < batch_size:
            return result
