"""E-mail reminders of due and overdue tasks, through the real protocol: the dev SMTP sink (an SMTP
server on loopback writing the dev outbox) captures what the reminder job sends. Each task due
today or overdue is reminded of once to its owner's address from the staff directory (the
gateway's user events carry it), in the owner's language; two replicas passing at once and a
restarted job send nothing twice; people without an address and upcoming tasks get nothing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from sqlalchemy import select

from crm_sales.background import TaskReminders
from crm_sales.config import SalesSettings
from crm_sales.db.pipeline_models import TaskReminder
from crm_sales.domain.my_work import end_of_today
from crm_sales.events.consumers import apply_user_event
from crm_shared.auth import Principal, Role
from crm_shared.broker import free_port
from crm_shared.envelope import CloudEvent
from crm_shared.outbound import SmtpChannel
from crm_shared.outbound.sinks import read_outbox, serve
from crm_shared.testing import PRINCIPALS, auth_headers, eventually, rest_only_settings

pytestmark = pytest.mark.integration

AGENT = PRINCIPALS["branch_agent"]  # ALA-01


async def listening(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    return True


@pytest_asyncio.fixture(scope="module")
async def sinks(tmp_path_factory):
    outbox = tmp_path_factory.mktemp("outbox") / "dev-outbox.jsonl"
    smtp_port = free_port()
    task = asyncio.create_task(serve("127.0.0.1", smtp_port, free_port(), outbox))
    await eventually(lambda: listening(smtp_port), message="the dev sinks listen")
    yield {"smtp_port": smtp_port, "outbox": outbox}
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@pytest.fixture(scope="module")
def sales_settings(sales_database, sinks) -> SalesSettings:
    return rest_only_settings(
        SalesSettings,
        sales_database,
        task_reminders_enabled=False,  # the test runs the job's passes itself, as replicas would
        smtp_port=sinks["smtp_port"],
        console_url="http://crm.example.kz/",
    )


async def staff_member(db, *, language: str, email: str | None) -> Principal:
    """A branch agent the gateway announced (with their address and language, or none)."""
    user_id = f"u-{uuid.uuid4().hex[:10]}"
    data = {
        "id": user_id,
        "username": f"agent.{user_id}",
        "full_name": f"Dana {user_id[-4:]}",
        "role": "branch_agent",
        "region_code": "KZ-75",
        "branch_code": "ALA-01",
        "active": True,
        "email": email,
        "language": language,
    }
    event = CloudEvent(
        id=str(uuid.uuid4()), source="/crm/gateway", type="crm.gateway.user.created", subject=user_id, data=data
    )
    async with db.unit_of_work() as session:
        await apply_user_event(session, event)
    return Principal(user_id, data["username"], Role.BRANCH_AGENT, region="KZ-75", branch="ALA-01")


async def task_for(client, owner: Principal, customer_id: str, subject: str, due_at: datetime) -> dict:
    response = await client.post(
        "/api/v1/sales/activities",
        headers=auth_headers(owner),
        json={
            "kind": "task",
            "related_type": "customer",
            "related_id": customer_id,
            "subject": subject,
            "due_at": due_at.isoformat(),
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def replica(db, settings: SalesSettings, now: datetime) -> TaskReminders:
    return TaskReminders(db, SmtpChannel(settings).send, lambda: now, interval_s=3600, console_url=settings.console_url)


async def test_each_due_task_is_reminded_of_once_in_its_owners_language(client, db, sales_settings, sinks, ids):
    customer = await client.post(
        "/api/v1/sales/customers",
        json=ids.individual(first_name="Aigerim", last_name="Seitkali"),
        headers=auth_headers(AGENT),
    )
    assert customer.status_code == 201, customer.text
    customer_id = customer.json()["id"]
    kazakh = await staff_member(db, language="kk", email=f"dana.{uuid.uuid4().hex[:6]}@qazaq-telecom.kz")
    english = await staff_member(db, language="en", email=f"erlan.{uuid.uuid4().hex[:6]}@qazaq-telecom.kz")
    no_address = await staff_member(db, language="ru", email=None)

    now = datetime.now(UTC).replace(microsecond=0)
    later_today = now + (end_of_today(now) - now) / 2
    overdue = await task_for(client, kazakh, customer_id, "Call back about the router", now - timedelta(hours=3))
    today = await task_for(client, kazakh, customer_id, "Send the bundle contract", later_today)
    upcoming = await task_for(client, kazakh, customer_id, "Prepare the demo", now + timedelta(days=3))
    english_task = await task_for(client, english, customer_id, "Check the payment", now - timedelta(days=1))
    unreachable = await task_for(client, no_address, customer_id, "Nobody to write to", now - timedelta(hours=1))

    # two replicas pass at the same moment: each reminder is claimed by one of them only
    first, second = replica(db, sales_settings, now), replica(db, sales_settings, now)
    sent = await asyncio.gather(first.send_pass(), second.send_pass())
    mine = {overdue["id"], today["id"], upcoming["id"], english_task["id"], unreachable["id"]}
    async with db.read_only() as session:
        claimed = {
            r.activity_id: r
            for r in await session.scalars(select(TaskReminder).where(TaskReminder.activity_id.in_(mine)))
        }
    assert set(claimed) == {overdue["id"], today["id"], english_task["id"]}
    assert all(r.sent_at is not None and r.message_id and r.error is None for r in claimed.values())
    assert sorted(sent) in ([0, 3], [1, 2])  # shared between them, 3 in all

    # restarted: nothing is sent again
    assert await replica(db, sales_settings, now).send_pass() == 0

    kazakh_mail = read_outbox(sinks["outbox"], to=claimed[overdue["id"]].email)
    assert len(kazakh_mail) == 2
    by_subject = {m["subject"]: m for m in kazakh_mail}
    assert set(by_subject) == {
        "Мерзімі өткен тапсырма: Call back about the router",
        "Бүгінгі тапсырма: Send the bundle contract",
    }
    overdue_mail = by_subject["Мерзімі өткен тапсырма: Call back about the router"]
    assert "Seitkali Aigerim" in overdue_mail["body"] or "Aigerim Seitkali" in overdue_mail["body"]
    assert "http://crm.example.kz/#/my-tasks" in overdue_mail["body"]
    assert overdue_mail["body"].startswith("Сәлеметсіз бе, Dana")
    [english_mail] = read_outbox(sinks["outbox"], to=claimed[english_task["id"]].email)
    assert english_mail["subject"] == "Overdue task: Check the payment"

    # the upcoming task is reminded of on its day, once
    on_its_day = datetime.fromisoformat(upcoming["due_at"].replace("Z", "+00:00")) - timedelta(minutes=30)
    assert await replica(db, sales_settings, on_its_day).send_pass() == 1
    assert await replica(db, sales_settings, on_its_day).send_pass() == 0
    assert len(read_outbox(sinks["outbox"], to=claimed[overdue["id"]].email)) == 3

    # a done task is not reminded of; a task moved to a new due time is, again
    done = await client.patch(
        f"/api/v1/sales/activities/{today['id']}",
        headers=auth_headers(kazakh) | {"If-Match": f'"{today["version"]}"'},
        json={"done_at": now.isoformat()},
    )
    assert done.status_code == 200, done.text
    moved = await client.patch(
        f"/api/v1/sales/activities/{overdue['id']}",
        headers=auth_headers(kazakh) | {"If-Match": f'"{overdue["version"]}"'},
        json={"due_at": (now - timedelta(minutes=10)).isoformat()},
    )
    assert moved.status_code == 200, moved.text
    assert await replica(db, sales_settings, now).send_pass() == 1
