"""A small closed-loop HTTP load generator: N concurrent clients, each on its own keep-alive
connection, each sending its next request when the previous one has answered. Reports
requests/s and latency percentiles.

The client is a minimal HTTP/1.1 implementation on asyncio streams rather than httpx: on a
2-core machine the load generator shares the CPU with the servers it measures, and httpx's
per-request cost (several times this one's) would otherwise cap every figure, the floor first.
It speaks just what our servers answer with: Content-Length or chunked bodies, keep-alive.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # path and query, already percent-encoded
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def get(cls, target: str) -> Request:
        return cls("GET", target)

    @classmethod
    def post_json(cls, target: str, payload: object) -> Request:
        return cls("POST", target, json.dumps(payload).encode(), (("content-type", "application/json"),))


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


class ProtocolError(Exception):
    pass


class Connection:
    """One keep-alive HTTP/1.1 connection; reopened when the server closes it."""

    def __init__(self, host: str, port: int, default_headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        head = {"host": f"{host}:{port}", "user-agent": "qazaq-bench", "accept": "*/*"} | {
            k.lower(): v for k, v in default_headers.items()
        }
        self._default_head = "".join(f"{k}: {v}\r\n" for k, v in head.items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass

    async def send(self, request: Request) -> Response:
        if self._writer is None:
            await self._open()
        head = f"{request.method} {request.target} HTTP/1.1\r\n{self._default_head}"
        head += "".join(f"{k}: {v}\r\n" for k, v in request.headers)
        if request.body is not None:
            head += f"content-length: {len(request.body)}\r\n"
        data = (head + "\r\n").encode("latin-1") + (request.body or b"")
        try:
            self._writer.write(data)
            return await self._read_response(request.method)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ProtocolError):
            await self.close()
            raise

    async def _read_response(self, method: str) -> Response:
        reader = self._reader
        raw_head = await reader.readuntil(b"\r\n\r\n")
        lines = raw_head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise ProtocolError(f"bad status line {lines[0]!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = await self._read_chunked()
        elif "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        else:  # delimited by the end of the connection
            body = await reader.read()
            await self.close()
            return Response(status, headers, body)
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Response(status, headers, body)

    async def _read_chunked(self) -> bytes:
        reader, chunks = self._reader, []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                    pass
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)


class Client:
    """A base URL and the headers every request to it carries."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"only plain http://host:port URLs are supported, not {base_url!r}")
        self.host, self.port = parts.hostname, parts.port or 80
        self.headers = dict(headers or {})

    def connection(self) -> Connection:
        return Connection(self.host, self.port, self.headers)

    async def send(self, request: Request) -> Response:
        """One request on a connection of its own (for set-up and checks, not for load)."""
        connection = self.connection()
        try:
            return await connection.send(request)
        finally:
            await connection.close()


@dataclass
class Result:
    label: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    concurrency: int = 1
    first_errors: list[str] = field(default_factory=list)
    cpu_ms_per_request: dict[str, float] = field(default_factory=dict)  # process -> CPU ms, when measured

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(q / 100 * len(data)))]

    @property
    def p50(self) -> float:
        return self.pct(50)

    @property
    def p95(self) -> float:
        return self.pct(95)

    def line(self) -> str:
        text = (
            f"{self.label:<46} c={self.concurrency:<3} {self.requests:>6} req {self.rps:>8.1f} req/s"
            f"  p50 {self.p50:>7.2f} ms  p95 {self.p95:>7.2f} ms  errors {self.errors}"
        )
        if self.cpu_ms_per_request:
            text += "\n    CPU per request: " + ", ".join(
                f"{name} {ms:.2f} ms" for name, ms in self.cpu_ms_per_request.items()
            )
        return text


RequestFactory = Callable[[int], Request]  # i -> the i-th request of the run
# (i, response) -> None when the answer is right, else what is wrong with it
Check = Callable[[int, Response], str | None]

MAX_ERRORS_KEPT = 5


async def run_load(
    label: str,
    client: Client,
    make_request: RequestFactory,
    *,
    total: int,
    concurrency: int = 8,
    max_seconds: float | None = None,
    expect: tuple[int, ...] = (200, 201),
    check: Check | None = None,
) -> Result:
    """Sends ``total`` requests from ``concurrency`` closed-loop clients, or fewer when
    ``max_seconds`` run out first (no request is started after that; the result says how many
    were sent). A request answered with a status outside ``expect``, or that ``check`` finds
    wrong, or that fails on the connection, counts as an error; its latency is recorded all the same."""
    counter = iter(range(total))
    deadline = time.perf_counter() + max_seconds if max_seconds else float("inf")
    latencies: list[float] = []
    problems: list[str] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        connection = client.connection()
        try:
            for i in counter:
                if time.perf_counter() > deadline:
                    break
                request = make_request(i)
                start = time.perf_counter()
                try:
                    response = await connection.send(request)
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ProtocolError) as exc:
                    problem = f"{request.method} {request.target}: {exc.__class__.__name__}: {exc}"
                else:
                    problem = None
                    if response.status not in expect:
                        problem = f"{request.method} {request.target}: HTTP {response.status} {response.body[:300]!r}"
                    elif check is not None:
                        wrong = check(i, response)
                        problem = f"{request.method} {request.target}: {wrong}" if wrong else None
                latencies.append((time.perf_counter() - start) * 1000)
                if problem is not None:
                    errors += 1
                    if len(problems) < MAX_ERRORS_KEPT:
                        problems.append(problem)
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return Result(label, len(latencies), errors, elapsed, latencies, concurrency, problems)


async def measure(
    label: str,
    client: Client,
    make_request: RequestFactory,
    *,
    total: int,
    warmup: int,
    concurrency: int = 8,
    max_seconds: float | None = None,
    expect: tuple[int, ...] = (200, 201),
    check: Check | None = None,
    on_start: Callable[[], None] | None = None,
) -> Result:
    """A warm-up run (connections opened, caches and code paths warm; not reported; at most a
    quarter of ``max_seconds``), then the measured run, with ``on_start`` called between the
    two. Requests are numbered on from the warm-up, so the two never repeat one another."""
    if warmup:
        warm = await run_load(
            f"{label} (warm-up)",
            client,
            make_request,
            total=warmup,
            concurrency=concurrency,
            max_seconds=max_seconds / 4 if max_seconds else None,
            expect=expect,
            check=check,
        )
        if warm.errors:
            raise RuntimeError(
                f"{label}: {warm.errors} of {warm.requests} warm-up requests failed, e.g. "
                + "; ".join(warm.first_errors)
            )
    if on_start is not None:
        on_start()
    return await run_load(
        label,
        client,
        lambda i: make_request(warmup + i),
        total=total,
        concurrency=concurrency,
        max_seconds=max_seconds,
        expect=expect,
        check=(lambda i, response: check(warmup + i, response)) if check else None,
    )


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")
