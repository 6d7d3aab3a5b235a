"""The event store: ClickHouse, embedded (chDB, in this process) or a server (clickhouse-connect),
behind one small class with the same DDL and SQL for both.

chDB opens one data path per process and its calls block: every call runs in a worker thread
(asyncio.to_thread), one at a time (a lock), and the embedded session is shared by every store
of the process (a test opens one database per test inside it)."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path
from typing import Any

import orjson

from crm_shared.settings import var_dir

from ..config import AnalyticsSettings
from ..domain.projection import COLUMN_NAMES, COLUMNS, COLUMNS_ADDED_LATER

EVENTS = "events"
RECORDS = "records"
RECORDS_FEED = "records_feed"  # the materialized view copying each inserted event into records
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_embedded: dict[str, Any] = {}
_embedded_lock = threading.Lock()


def _embedded_session(path: str):
    from chdb import session

    with _embedded_lock:
        if path not in _embedded:
            if _embedded:
                raise RuntimeError(f"chDB is open at {next(iter(_embedded))} in this process; one path per process")
            Path(path).mkdir(parents=True, exist_ok=True)
            _embedded[path] = session.Session(path)
        return _embedded[path]


def literal(value: Any) -> str:
    """A value as a ClickHouse SQL literal (strings quoted and escaped)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


class EventStore:
    def __init__(self, settings: AnalyticsSettings) -> None:
        if not _NAME.match(settings.clickhouse_database):
            raise ValueError("clickhouse_database must be a plain identifier")
        self.database = settings.clickhouse_database
        self.url = settings.clickhouse_url
        self.path = settings.clickhouse_path or str(Path(settings.var_dir or var_dir()) / "analytics-chdb")
        self._lock = threading.Lock()
        self._client: Any = None
        self._started = False
        self.generation = 0  # moved by rebuild(): the ingest worker then reads every topic again

    # --- a Worker of the service (ServiceDefinition.clients): tables made at start --------------

    name = "clickhouse"

    async def start(self) -> None:
        await self.create()
        self._started = True

    async def stop(self) -> None:
        self._started = False
        await self.close()

    @property
    def ready(self) -> bool:
        return self._started

    @property
    def engine(self) -> str:
        return "clickhouse-server" if self.url else "chdb"

    def table(self, name: str = EVENTS) -> str:
        return f"{self.database}.{name}"

    # --- blocking primitives (always called through run / the async methods) -------------------

    def _connect(self) -> Any:
        if self._client is None:
            if self.url:
                import clickhouse_connect

                self._client = clickhouse_connect.get_client(dsn=self.url)
            else:
                self._client = _embedded_session(self.path)
        return self._client

    def _command(self, sql: str) -> None:
        client = self._connect()
        if self.url:
            client.command(sql)
        else:
            client.query(sql)

    def _rows(self, sql: str) -> tuple[list[str], list[list[Any]]]:
        client = self._connect()
        if self.url:
            result = client.query(sql)
            return list(result.column_names), [list(row) for row in result.result_rows]
        answer = orjson.loads(client.query(sql, "JSONCompact").bytes() or b'{"meta": [], "data": []}')
        return [column["name"] for column in answer["meta"]], answer["data"]

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        body = b"\n".join(map(orjson.dumps, rows))  # orjson: the JSON of a batch, an order faster than json
        columns = ", ".join(COLUMN_NAMES)
        if self.url:
            self._connect().raw_insert(self.table(EVENTS), COLUMN_NAMES, body, fmt="JSONEachRow")
        else:
            self._command(f"INSERT INTO {self.table(EVENTS)} ({columns}) FORMAT JSONEachRow\n{body.decode()}")

    def _serialised(self, function, *args):
        with self._lock:
            return function(*args)

    async def _run(self, function, *args):
        return await asyncio.to_thread(self._serialised, function, *args)

    # --- the store's operations ---------------------------------------------------------------

    def create_sql(self) -> list[str]:
        """The DDL: ``events``, every event once (ReplacingMergeTree keyed by the event's key, so a
                        redelivered event is one row once the parts merge, and the queries count keys meanwhile),
                        and ``records``, the latest state of each record (ReplacingMergeTree by the record's
                        version, read with FINAL, fed by a materialized view of every insert into ``events``), which
        is what the dashboards count. Both are partitioned by the
                month of the record's creation, which never changes, so every version of a record lands in one
                partition and FINAL deduplicates partition by partition."""
        columns = ",\n  ".join(f"{name} {kind}" for name, kind in COLUMNS)
        return [
            f"CREATE DATABASE IF NOT EXISTS {self.database}",
            f"CREATE TABLE IF NOT EXISTS {self.table(EVENTS)} (\n  {columns}\n) ENGINE = ReplacingMergeTree "
            "PARTITION BY toYYYYMM(created_at) ORDER BY (topic, event_key)",
            f"CREATE TABLE IF NOT EXISTS {self.table(RECORDS)} (\n  {columns}\n) "
            "ENGINE = ReplacingMergeTree(record_version) PARTITION BY toYYYYMM(created_at) "
            "ORDER BY (topic, record_key)",
            # a store made before a column was added gets it (its older rows hold the default)
            *(
                f"ALTER TABLE {self.table(table)} ADD COLUMN IF NOT EXISTS {name} {kind}"
                for table in (EVENTS, RECORDS)
                for name, kind in COLUMNS
                if name in COLUMNS_ADDED_LATER
            ),
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {self.table(RECORDS_FEED)} TO {self.table(RECORDS)} "
            f"AS SELECT * FROM {self.table(EVENTS)}",
        ]

    async def create(self) -> None:
        for sql in self.create_sql():
            await self._run(self._command, sql)

    async def drop(self) -> None:
        for table in (RECORDS_FEED, EVENTS, RECORDS):
            await self._run(self._command, f"DROP TABLE IF EXISTS {self.table(table)}")

    async def rebuild(self) -> None:
        """Empties the store; the ingest worker notices the new generation and replays."""
        await self.drop()
        await self.create()
        self.generation += 1

    async def insert(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self._run(self._insert, rows)

    async def compact(self, quiet_s: float) -> list[str]:
        """Merges each partition of ``records`` that has more than one part and no new part for
        ``quiet_s`` into one part (OPTIMIZE … FINAL), so the dashboards' FINAL reads it as it is
        instead of merging its parts on every query (five times faster at 5 M rows). Figures
        are unchanged: FINAL already answered with the latest version of each record. The month
        being written keeps its parts until it goes quiet. Returns the partitions merged."""
        _, partitions = await self.query(
            "SELECT partition_id FROM system.parts WHERE active AND database = "
            f"{literal(self.database)} AND table = {literal(RECORDS)} GROUP BY partition_id "
            f"HAVING count() > 1 AND max(modification_time) <= now() - toIntervalSecond({int(quiet_s)}) "
            "ORDER BY partition_id"
        )
        merged = [str(row[0]) for row in partitions]
        for partition in merged:
            await self.execute(f"OPTIMIZE TABLE {self.table(RECORDS)} PARTITION ID {literal(partition)} FINAL")
        return merged

    async def rekey(self, keys: dict[str, str]) -> None:
        """Customer keys replaced (a merge: the duplicate's key -> the survivor's) in every row,
        waiting for the mutation to finish."""
        if not keys:
            return
        olds = "[" + ", ".join(literal(k) for k in keys) + "]"
        news = "[" + ", ".join(literal(v) for v in keys.values()) + "]"
        for table in (EVENTS, RECORDS):
            await self.execute(
                f"ALTER TABLE {self.table(table)} UPDATE customer_key = transform(customer_key, {olds}, {news}) "
                f"WHERE has({olds}, customer_key) SETTINGS mutations_sync = 2"
            )

    async def execute(self, sql: str) -> None:
        await self._run(self._command, sql)

    async def query(self, sql: str) -> tuple[list[str], list[list[Any]]]:
        return await self._run(self._rows, sql)

    async def tables(self) -> list[str]:
        _, rows = await self.query(f"SELECT name FROM system.tables WHERE database = {literal(self.database)}")
        return [row[0] for row in rows]

    async def close(self) -> None:
        """A server client is closed; the embedded session stays open for the process."""
        if self.url and self._client is not None:
            client, self._client = self._client, None
            await asyncio.to_thread(client.close)
