"""Webhook delivery benchmark: deliveries/s from the webhooks service's database to a local HTTP
listener, next to a raw httpx POST loop of the same bodies to the same listener in the same run.

- the service: one subscription (registered with the service's own use case), N events fanned
  out into pending deliveries (``delivery_service.fan_out``, as the consumer does), then
  delivered the way the dispatcher's task for one subscription does it: ``deliver_next`` in a
  loop (read the oldest due delivery, sign, POST, record the outcome). Timed from the first
  attempt to the last delivery recorded.
- the baseline: the same N bodies POSTed one after another with the same httpx client.

PostgreSQL (a fresh database). The listener is uvicorn in this process.

    .venv/bin/python -m bench.bench_webhooks [--deliveries 500]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from dataclasses import dataclass

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from crm_shared.auth import Principal, Role
from crm_shared.db import Database, utcnow
from crm_shared.envelope import CloudEvent
from crm_shared.migrations import upgrade_async
from crm_shared.registry import get_service
from crm_webhooks.config import WebhooksSettings
from crm_webhooks.services import delivery_service, subscription_service

from .common import SummaryRow, run_from_command_line, temporary_databases

EVENT_TYPE = "crm.gateway.branch.opened"


@dataclass
class WebhookOptions:
    deliveries: int = 500


async def _listener() -> tuple[uvicorn.Server, asyncio.Task, str]:
    async def take(_request) -> Response:
        return Response(status_code=204)

    app = Starlette(routes=[Route("/hook", take, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    return server, task, f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/hook"


async def run(options: WebhookOptions) -> list[SummaryRow]:
    def say(message: str) -> None:
        print(f"[webhooks] {message}", flush=True)

    server, serving, url = await _listener()
    try:
        async with temporary_databases() as databases:
            database_url = await databases.create("webhooks")
            await upgrade_async(get_service("webhooks").migrations_path(), database_url)
            db = Database(database_url)
            settings = WebhooksSettings(database_url=database_url, log_json=False)
            try:
                async with db.unit_of_work() as session:
                    created = await subscription_service.register(
                        session,
                        Principal("bench", "bench", Role.ADMIN),
                        url=url,
                        event_types=[EVENT_TYPE],
                        description="bench",
                        allow_private=True,
                        now=utcnow(),
                    )
                subscription_id = created.subscription.id
                async with db.unit_of_work() as session:
                    for n in range(options.deliveries):
                        event = CloudEvent(
                            id=str(uuid.uuid4()),
                            source="/crm/gateway",
                            type=EVENT_TYPE,
                            subject=f"ALA-{n % 100:02d}",
                            data={"code": f"ALA-{n % 100:02d}", "region_code": "KZ-75", "city": "Almaty"},
                            region="KZ-75",
                        )
                        await delivery_service.fan_out(session, event, utcnow())
                say(f"{options.deliveries} deliveries pending")
                async with httpx.AsyncClient(trust_env=False) as http:
                    started = time.perf_counter()
                    while await delivery_service.deliver_next(db, http, settings, subscription_id, utcnow()):
                        pass
                    service_s = time.perf_counter() - started
                    body = b'{"specversion":"1.0","id":"x","type":"t","data":{"code":"ALA-01"}}'
                    started = time.perf_counter()
                    for _ in range(options.deliveries):
                        (await http.post(url, content=body)).raise_for_status()
                    raw_s = time.perf_counter() - started
            finally:
                await db.dispose()
    finally:
        server.should_exit = True
        await serving
    measured, raw = options.deliveries / service_s, options.deliveries / raw_s
    say(f"{measured:.0f} deliveries/s; raw POST {raw:.0f}/s")
    return [
        SummaryRow(
            "webhook deliveries (one subscription, PostgreSQL)",
            f"{measured:.0f} deliveries/s",
            f"{raw:.0f} POST/s raw httpx",
            measured / raw,
            note="each delivery reads, signs, POSTs and records its outcome in its own transactions",
        )
    ]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--deliveries", type=int, default=WebhookOptions.deliveries, help="webhook deliveries")


def options_from(args: argparse.Namespace) -> WebhookOptions:
    return WebhookOptions(deliveries=args.deliveries)


def main() -> None:
    run_from_command_line(__doc__, add_arguments, options_from, run)


if __name__ == "__main__":
    main()
