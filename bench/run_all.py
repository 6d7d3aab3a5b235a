"""Runs every benchmark and prints one summary table (`make bench`).

    .venv/bin/python -m bench.run_all [--only api|relay|tickets|orders|webhooks|search|marketing|analytics|commissions|import] [--deliveries 500] [--customers 100000] [--requests 3000]
        [--concurrency 8] [--max-seconds 20] [--events 20000] [--no-sqlite] [--tickets 200000]
        [--order-customers 10000] [--offerings 200] [--orders 2000] [--completions 400]
        [--search-customers 20000] [--search-requests 1000]
        [--send-members 1000] [--segment-customers 100000] [--big]
        [--kafka-events 20000] [--store-events 1000000] [--queries 20]
        [--import-rows 10000] [--import-batch-size 500]

Figures, never pass/fail: each is printed next to a baseline measured in the same run, and
the ratio is what to compare between machines and commits (see bench/README.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from . import (
    bench_analytics,
    bench_api,
    bench_commissions,
    bench_import,
    bench_marketing,
    bench_orders,
    bench_relay,
    bench_search,
    bench_tickets,
    bench_webhooks,
)
from .common import SummaryRow, render_summary, run_benchmark


def machine() -> str:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return f"{os.cpu_count()} CPUs, Python {platform.python_version()}, load average {load}"


async def run_all(args: argparse.Namespace) -> list[SummaryRow]:
    rows: list[SummaryRow] = []
    if args.only in (None, "api"):
        rows += await bench_api.run(bench_api.options_from(args))
    if args.only in (None, "relay"):
        rows += await bench_relay.run(bench_relay.options_from(args))
    if args.only in (None, "tickets"):
        rows += await bench_tickets.run(bench_tickets.options_from(args))
    if args.only in (None, "orders"):
        rows += await bench_orders.run(bench_orders.options_from(args))
    if args.only in (None, "webhooks"):
        rows += await bench_webhooks.run(bench_webhooks.options_from(args))
    if args.only in (None, "search"):
        rows += await bench_search.run(bench_search.options_from(args))
    if args.only in (None, "marketing"):
        rows += await bench_marketing.run(bench_marketing.options_from(args))
    if args.only in (None, "analytics"):
        rows += await bench_analytics.run(bench_analytics.options_from(args))
    if args.only in (None, "commissions"):
        rows += await bench_commissions.run(bench_commissions.options_from(args))
    if args.only in (None, "import"):
        rows += await bench_import.run(bench_import.options_from(args))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        choices=(
            "api",
            "relay",
            "tickets",
            "orders",
            "webhooks",
            "search",
            "marketing",
            "analytics",
            "commissions",
            "import",
        ),
        help="run one benchmark only",
    )
    bench_api.add_arguments(parser)
    bench_relay.add_arguments(parser)
    bench_tickets.add_arguments(parser, shared=True)
    bench_orders.add_arguments(parser, shared=True)
    bench_webhooks.add_arguments(parser)
    bench_search.add_arguments(parser)
    bench_marketing.add_arguments(parser)
    bench_analytics.add_arguments(parser)
    bench_commissions.add_arguments(parser, shared=True)
    bench_import.add_arguments(parser)
    args = parser.parse_args()
    print(f"machine: {machine()}", flush=True)
    started = time.perf_counter()
    rows = run_benchmark(run_all(args))
    print()
    print(f"Summary ({time.perf_counter() - started:.0f} s; machine at the end: {machine()})")
    print(render_summary(rows))


if __name__ == "__main__":
    main()
