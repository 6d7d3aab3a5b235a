"""What the benchmarks share: throw-away PostgreSQL databases, and the summary rows they report."""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg

T = TypeVar("T")

# The server's maintenance database; the benchmarks create their own beside it and drop them.
POSTGRES_URL = os.environ.get("CRM_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASE_PREFIX = "crm_bench_"


class Databases:
    """Creates empty PostgreSQL databases (``await dbs.create("sales")`` gives a SQLAlchemy
    async URL); ``temporary_databases()`` drops every one it made when it ends."""

    def __init__(self, admin_url: str = POSTGRES_URL) -> None:
        self.admin_url = admin_url
        self.created: list[str] = []

    async def create(self, label: str) -> str:
        name = f"{DATABASE_PREFIX}{label}_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        self.created.append(name)
        base = self.admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        return f"{base}/{name}"

    async def drop_all(self) -> None:
        if not self.created:
            return
        conn = await asyncpg.connect(self.admin_url)
        try:
            while self.created:
                await conn.execute(f'DROP DATABASE IF EXISTS "{self.created.pop()}" WITH (FORCE)')
        finally:
            await conn.close()


@asynccontextmanager
async def temporary_databases() -> AsyncIterator[Databases]:
    databases = Databases()
    try:
        yield databases
    finally:
        await databases.drop_all()


def run_benchmark(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run``, where SIGTERM (a CI runner's stop, `kill`) unwinds like Ctrl-C: either
    way the servers are stopped and the databases dropped on the way out, and the exit is quiet."""

    def interrupt(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        return asyncio.run(main)
    except KeyboardInterrupt:
        print("interrupted: servers stopped, benchmark databases dropped", file=sys.stderr)
        raise SystemExit(130) from None


@dataclass
class SummaryRow:
    """One figure next to its same-run baseline. ``ratio`` is measured/baseline, except where a
    lower figure is better (latency), where ``note`` says what it is."""

    benchmark: str
    measured: str
    baseline: str
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""


def render_summary(rows: list[SummaryRow]) -> str:
    header = ("benchmark", "measured", "baseline (same run)", "ratio", "target", "met")
    body = [
        (
            r.benchmark,
            r.measured,
            r.baseline,
            "" if r.ratio is None or math.isnan(r.ratio) else f"{r.ratio:.2f}",
            r.target,
            "" if r.met is None else ("yes" if r.met else "NO"),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    rule = "  ".join("-" * w for w in widths)
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *body]]
    notes = [f"  * {r.benchmark}: {r.note}" for r in rows if r.note]
    return "\n".join([lines[0], rule, *lines[1:], *(["", *notes] if notes else [])])


def run_from_command_line(
    doc: str | None,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    options_from: Callable[[argparse.Namespace], Any],
    run: Callable[[Any], Coroutine[Any, Any, list[SummaryRow]]],
) -> None:
    """A benchmark module's ``main``: its own flags, the run, then its summary rows."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    add_arguments(parser)
    rows = run_benchmark(run(options_from(parser.parse_args())))
    print()
    print(render_summary(rows))
