"""Runs one OutboxRelay until SIGTERM/SIGINT (or SIGKILL), for tests that kill the relay.

python relay_process.py --database-url URL --bootstrap HOST:PORT [--batch-size N] [--pause-file PATH]

--pause-file: the relay's test hook (ServiceSettings.relay_test_pause_file): write N into PATH and
the relay stops after N more acknowledged events, before marking them sent, and writes
PATH.paused; the test then kills it at that point.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from crm_shared.db import Database
from crm_shared.relay import OutboxRelay
from crm_shared.settings import ServiceSettings


async def run(database_url: str, bootstrap: str, batch_size: int, pause_file: str) -> None:
    settings = ServiceSettings(
        service_name="relay-under-test",
        database_url=database_url,
        kafka_bootstrap_servers=bootstrap,
        outbox_batch_size=batch_size,
        outbox_poll_interval_s=0.05,
        relay_test_pause_file=pause_file,
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
    parser.add_argument("--pause-file", default="")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(run(args.database_url, args.bootstrap, args.batch_size, args.pause_file))


if __name__ == "__main__":
    main()
