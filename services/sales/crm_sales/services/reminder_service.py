"""E-mail reminders of due and overdue tasks: each open task due today or overdue is reminded of
once (for its due time) to its owner's own address, in the owner's language, through the shared
outbound channel (crm_shared.outbound: SMTP). A reminder is claimed before it is sent (a
task_reminders row inserted once, whichever process or pass inserts it first), so none goes out
twice across restarts and replicas; a process that dies between the claim and the send loses
that reminder (at most once, never twice: the console's reminder badge still shows the task). A
reminder the mail relay refuses is recorded with the refusal and not sent again. People the staff
directory knows no address of, or who left, are not written to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.inserts import insert_if_absent
from crm_shared.outbound import OutboundMessage

from ..db.pipeline_models import StaffMember, TaskReminder
from ..domain.my_work import Due
from ..domain.reminders import reminder_text
from .my_work_service import due_reminders


@dataclass(frozen=True)
class Reminder:
    activity_id: str
    due_at: datetime
    message: OutboundMessage


def reminder_message_id(activity_id: str, due_at: datetime) -> str:
    return f"task-reminder.{activity_id}.{int(due_at.timestamp())}"


async def claim_reminders(
    session: AsyncSession, now: datetime, *, console_url: str, limit: int = 500
) -> list[Reminder]:
    """The reminders this pass sends, claimed in the caller's transaction (commit before sending)."""
    due = await due_reminders(session, now)
    if not due:
        return []
    people = {
        member.id: member
        for member in await session.scalars(
            select(StaffMember).where(
                StaffMember.id.in_(list(due)), StaffMember.active.is_(True), StaffMember.email.is_not(None)
            )
        )
    }
    claimed: list[Reminder] = []
    for owner_id, tasks in due.items():
        person = people.get(owner_id)
        if person is None or not person.email:
            continue
        for task in tasks:
            if len(claimed) >= limit:
                return claimed
            won = await session.scalar(
                insert_if_absent(
                    session,
                    TaskReminder,
                    ("activity_id", "due_at"),
                    TaskReminder.activity_id,
                    activity_id=task["id"],
                    due_at=task["due_at"],
                    owner_id=owner_id,
                    email=person.email,
                    claimed_at=now,
                )
            )
            if won is None:  # another process claimed it
                continue
            subject, body = reminder_text(
                language=person.language,
                person=person.full_name or person.username,
                task=task["subject"],
                related_name=task["related_name"],
                due=Due(task["due"]),
                due_at=task["due_at"],
                url=console_url.rstrip("/") + "/#/my-tasks",
            )
            message = OutboundMessage(
                channel="email",
                to=person.email,
                subject=subject,
                body=body,
                message_id=reminder_message_id(task["id"], task["due_at"]),
            )
            claimed.append(Reminder(task["id"], task["due_at"], message))
    return claimed


async def record_outcome(
    session: AsyncSession, reminder: Reminder, now: datetime, *, message_id: str | None, error: str | None
) -> None:
    """What came of sending a claimed reminder: sent (the relay's id) or refused (why)."""
    await session.execute(
        update(TaskReminder)
        .where(TaskReminder.activity_id == reminder.activity_id, TaskReminder.due_at == reminder.due_at)
        .values(sent_at=now if error is None else None, message_id=message_id, error=error)
    )
