"""Runs one OutboxRelay until SIGTERM/SIGINT (or SIGKILL), for tests that kill the relay.

python relay_process.py --database-url URL --bootstrap HOST:PORT [--batch-size N]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from crm_shared.db import Database
from crm_shared.relay import OutboxRelay
from crm_shared.settings import ServiceSettings


async def run(database_url: str, bootstrap: str, batch_size: int) -> None:
    settings = ServiceSettings(
        service_name="relay-under-test",
        database_url=database_url,
        kafka_bootstrap_servers=bootstrap,
        outbox_batch_size=batch_size,
        outbox_poll_interval_s=0.05,
    )
    db = Database(database_url)
    relay = OutboxRelay(db, settings, backoff_initial_s=0.1, standby_retry_s=0.1, listen_fallback_poll_s=0.5)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await relay.start()
    print("relay started", flush=True)
    await stop.wait()
    await relay.stop()
    await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--batch-size", type=int, default=200)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(run(args.database_url, args.bootstrap, args.batch_size))


if __name__ == "__main__":
    main()
