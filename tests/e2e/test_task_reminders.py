"""End to end through the gateway, as `crm up --seed` runs the suite: a task due an hour ago is
reminded of by e-mail to its owner's own address (the gateway's demo user almaty.agent, whose
address and language reach sales' staff directory as user events), in her language (Kazakh),
through the dev SMTP sink: `GET /api/v1/admin/dev-outbox?to=` shows it, once, also after later
reminder passes."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from crm_cli.testing import RunningSuite, sign_in

from .test_suite_flow import fresh_identity

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ADDRESS = "almaty.agent@qazaq-telecom.kz"  # gateway's demo user (crm_gateway.seed)
OVERDUE_SUBJECT = {"kk": "Мерзімі өткен тапсырма: ", "ru": "Просроченная задача: ", "en": "Overdue task: "}


async def reminders_of(client, admin, subject: str) -> list[dict]:
    answer = await client.get("/api/v1/admin/dev-outbox", params={"to": ADDRESS}, headers=admin)
    assert answer.status_code == 200, answer.text
    return [m for m in answer.json()["items"] if subject in m["subject"]]


async def arrived(client, admin, subject: str, timeout_s: float = 180) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if found := await reminders_of(client, admin, subject):
            return found
        await asyncio.sleep(1)
    raise AssertionError(f"no reminder of {subject!r} reached {ADDRESS} within {timeout_s:.0f} s")


async def task_due(client, agent, customer_id: str, subject: str, due_at: datetime) -> None:
    response = await client.post(
        "/api/v1/sales/activities",
        headers=agent,
        json={
            "kind": "task",
            "related_type": "customer",
            "related_id": customer_id,
            "subject": subject,
            "due_at": due_at.isoformat(),
        },
    )
    assert response.status_code == 201, response.text


async def test_a_due_task_is_reminded_of_once_by_email_in_the_owners_language(suite: RunningSuite):
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        agent = await sign_in(client, "almaty.agent")
        admin = await sign_in(client, "admin")
        # her language is whatever she chose last (Kazakh in the seed; another test may switch it)
        language = (await client.get("/api/v1/auth/me", headers=agent)).json()["language"]
        iin, phone, _ = fresh_identity()
        customer = await client.post(
            "/api/v1/sales/customers",
            headers=agent,
            json={"kind": "individual", "iin": iin, "first_name": "Aliya", "last_name": "Reminded", "phone": phone},
        )
        assert customer.status_code == 201, customer.text
        first = f"Call back {uuid.uuid4().hex[:6]}"
        await task_due(client, agent, customer.json()["id"], first, datetime.now(UTC) - timedelta(hours=1))

        [reminder] = await arrived(client, admin, first)
        assert reminder["channel"] == "email"
        assert reminder["subject"] == OVERDUE_SUBJECT[language] + first
        assert "Dana Nurlanovna" in reminder["body"] and "Reminded Aliya" in reminder["body"]

        # a later task's reminder comes in a later pass; the first is still there once
        second = f"Send the contract {uuid.uuid4().hex[:6]}"
        await task_due(client, agent, customer.json()["id"], second, datetime.now(UTC) - timedelta(minutes=5))
        await arrived(client, admin, second)
        assert len(await reminders_of(client, admin, first)) == 1
