"""Demo data for the dev profile: one open mass incident (a fibre cut in Karaganda, reported by
the demo OSS key) and a few tickets of the sales service's fixed demo customers in several
branches and states.

Seeding runs before the services start (`crm up --seed`), and a ticket needs its customer from
the running sales service. So ``seed_demo`` writes the incident at once and records each demo
ticket as a pending *story*; the ``DemoStories`` worker of the running service plays every
pending story once sales answers (finding the customer by the phone crm_sales.seed documents),
through the same functions as the REST API (status history, audit, events, SLA, incident
linking). A story is marked done in the transaction that writes it: running the seed again, a
restart, or a second replica plays nothing twice.

=====================================  ==============  ======  ===============================
customer (crm_sales.seed)              phone           branch  demo ticket
=====================================  ==============  ======  ===============================
Seitkali Aigerim Nurlanovna            +77011234567    ALA-01  internet drops, in progress
Seitkali Aigerim Nurlanovna            +77011234567    ALA-01  billing question, closed
Bekov Daniyar Serikovich               +77051112233    ALA-02  IPTV, pending (visit booked)
Karaganda Steel Service (LLP)          +77212410000    KAR-01  fibre down, linked to the outage
Astana Digital Solutions (LLP)         +77172555000    AST-01  phone line crackles, new
=====================================  ==============  ======  ===============================
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import select

from crm_shared.auth import Principal, Role
from crm_shared.clients.sales import SalesCustomers
from crm_shared.db import Database, utcnow
from crm_shared.errors import Problem

from .config import TicketsSettings
from .db.models import DemoStory, Incident
from .services.incident_service import IncidentReport, create_incident
from .services.ticket_service import NoteDraft, TicketDraft, append_note, create_ticket, transition

log = logging.getLogger("crm.tickets.seed")

# The gateway's demo users and the demo OSS key (crm_gateway.seed) act in the demo stories.
DEMO_OSS = Principal(
    "apikey-demo-tickets-oss",
    "Demo OSS network operations (tickets)",
    Role.SYSTEM,
    scopes=("tickets:read", "tickets:write", "tickets:incidents", "sales:read"),
)
CALL_CENTER = Principal("user-callcenter", "callcenter", Role.CALL_CENTER_AGENT)
ADMIN = Principal("user-admin", "admin", Role.ADMIN)
ALMATY_AGENT = Principal("user-almaty-agent", "almaty.agent", Role.BRANCH_AGENT, region="KZ-75", branch="ALA-01")
KARAGANDA_AGENT = Principal(
    "user-karaganda-agent", "karaganda.agent", Role.BRANCH_AGENT, region="KZ-35", branch="KAR-01"
)

DEMO_INCIDENT_ID = "incident-demo-karaganda-fibre"
DEMO_INCIDENT = IncidentReport(
    title="Fibre cut on Bukhar Zhyrau Blvd, Karaganda",
    description="Backbone fibre damaged by road works; internet and IPTV down for the buildings along the "
    "boulevard. Field team on site.",
    categories=("internet", "tv"),
    region_code="KZ-35",
    branch_code="KAR-01",
    area="Bukhar Zhyrau",
    severity="major",
    external_reference="NOC-2026-0412",
)


@dataclass(frozen=True)
class DemoTicket:
    key: str
    phone: str
    fields: dict
    steps: tuple[tuple[str, str | None], ...] = ()  # (status, reason) transitions after opening
    note: str | None = None
    opened_by: Principal = CALL_CENTER
    worked_by: Principal = ADMIN
    opened_hours_ago: float = 2.0

    def draft(self) -> TicketDraft:
        return TicketDraft(**self.fields)


DEMO_TICKETS: tuple[DemoTicket, ...] = (
    DemoTicket(
        "ala01-aigerim-internet",
        "+77011234567",
        {
            "name": "Internet drops every evening",
            "category": "internet",
            "priority": "high",
            "description": "Connection drops several times between 19:00 and 23:00; router restarted, no change.",
            "location": "Almaty, Abay Ave 150, apt 12",
        },
        steps=(("acknowledged", None), ("in_progress", "line test booked")),
        note="Customer works from home in the evenings; call before 18:00.",
        worked_by=ALMATY_AGENT,
    ),
    DemoTicket(
        "ala01-aigerim-billing",
        "+77011234567",
        {
            "name": "Charged twice for March",
            "category": "billing",
            "priority": "low",
            "description": "The March subscription fee appears twice on the bill.",
        },
        steps=(("in_progress", None), ("resolved", "duplicate charge refunded"), ("closed", "customer confirmed")),
        worked_by=ALMATY_AGENT,
        opened_hours_ago=30,
    ),
    DemoTicket(
        "ala02-daniyar-tv",
        "+77051112233",
        {
            "name": "IPTV: no signal on two channels",
            "category": "tv",
            "priority": "medium",
            "description": "Khabar and Qazaqstan show 'no signal'; the other channels work.",
        },
        steps=(("acknowledged", None), ("pending", "technician visit booked; waiting for the customer to be home")),
    ),
    DemoTicket(
        "kar01-ksteel-fibre",
        "+77212410000",
        {
            "name": "Office internet down",
            "category": "internet",
            "priority": "critical",
            "severity": "major",
            "description": "No internet in the whole office since the morning.",
            "location": "Karaganda, Bukhar Zhyrau Blvd 49",
        },
        worked_by=KARAGANDA_AGENT,
        opened_hours_ago=1,
    ),
    DemoTicket(
        "ast01-digital-phone",
        "+77172555000",
        {
            "name": "Phone line crackles",
            "category": "fixed_line",
            "priority": "medium",
            "description": "Strong noise on the main office line during calls.",
        },
        opened_hours_ago=0.5,
    ),
)


async def seed_demo(db: Database, settings: TicketsSettings) -> dict[str, int]:
    if settings.profile != "dev":
        raise RuntimeError(f"demo data is for the dev profile only (profile is {settings.profile!r})")
    now = utcnow()
    async with db.unit_of_work() as session:
        incident_created = 0
        if await session.get(Incident, DEMO_INCIDENT_ID) is None:
            report = replace(DEMO_INCIDENT, expected_resolution_at=now + timedelta(hours=6))
            await create_incident(session, DEMO_OSS, report, now=now, incident_id=DEMO_INCIDENT_ID)
            incident_created = 1
        known = set(await session.scalars(select(DemoStory.key)))
        new = [story for story in DEMO_TICKETS if story.key not in known]
        for story in new:
            session.add(DemoStory(key=story.key, created_at=now))
    print(
        f"tickets demo data: {'an open mass incident (Karaganda fibre cut), ' if incident_created else ''}"
        f"{len(new)} demo tickets queued; the running service opens them once sales answers"
    )
    return {"incidents": incident_created, "tickets_queued": len(new)}


async def play_story(session, story: DemoTicket, customers: SalesCustomers, now: datetime) -> str:
    found = await customers.find_by_phone(ADMIN, story.phone)
    if not found:
        return f"no customer with phone {story.phone} in sales; skipped"
    customer = found[0]
    opened_at = now - timedelta(hours=story.opened_hours_ago)
    ticket = await create_ticket(session, story.opened_by, customer, story.draft(), now=opened_at)
    if story.note:
        await append_note(session, story.opened_by, ticket, NoteDraft(story.note), now=opened_at)
    step_at = opened_at
    for status, reason in story.steps:
        step_at += timedelta(minutes=20)
        await transition(
            session, story.worked_by, ticket, status, reason, now=min(step_at, now), reopen_window=timedelta(days=14)
        )
    return f"ticket {ticket.id} ({ticket.status})"


@dataclass
class DemoStories:
    """A worker that plays the pending demo stories once the sales service answers, then ends."""

    db: Database
    customers: SalesCustomers
    clock: Callable[[], datetime]
    retry_s: float = 2.0
    name: str = "demo-stories"
    ready: bool = True
    _task: asyncio.Task | None = field(default=None, repr=False)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        delay = self.retry_s
        while True:
            try:
                if not await self.play_pending():
                    return
            except Problem as problem:  # sales not up yet: try again a little later
                log.info("demo stories wait for the sales service: %s", problem.detail)
            except Exception:
                log.exception("demo stories failed; retrying")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def play_pending(self) -> int:
        """Plays what is pending; returns how many stories are still pending afterwards."""
        stories = {story.key: story for story in DEMO_TICKETS}
        async with self.db.read_only() as session:
            pending = list(await session.scalars(select(DemoStory.key).where(DemoStory.done_at.is_(None))))
        for key in pending:
            async with self.db.unit_of_work() as session:
                row = await session.scalar(
                    select(DemoStory)
                    .where(DemoStory.key == key, DemoStory.done_at.is_(None))
                    .with_for_update(skip_locked=True)
                )
                if row is None:
                    continue  # done, or being played by another replica
                story = stories.get(key)
                now = self.clock()
                row.outcome = (
                    await play_story(session, story, self.customers, now) if story else "unknown story; skipped"
                )[:300]
                row.done_at = now
                log.info("demo story %s: %s", key, row.outcome)
        return 0
