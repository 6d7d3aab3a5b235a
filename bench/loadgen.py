"""A small closed-loop HTTP load generator: N concurrent clients, each sending its next request
when the previous one answers. Reports requests/s and latency percentiles."""
from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx


@dataclass
class Result:
    label: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(q / 100 * len(data)))]

    def line(self) -> str:
        return (f"{self.label:<44} {self.requests:>7} req {self.rps:>8.1f} req/s  p50 {self.pct(50):>7.2f} ms"
                f"  p95 {self.pct(95):>7.2f} ms  errors {self.errors}")


RequestFactory = Callable[[int], tuple[str, str, dict]]  # i -> (method, url, kwargs)


async def run_load(label: str, make_request: RequestFactory, *, total: int, concurrency: int = 8,
                   headers: dict | None = None, expect: tuple[int, ...] = (200, 201)) -> Result:
    counter = iter(range(total))
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as client:
        async def worker() -> None:
            nonlocal errors
            for i in counter:
                method, url, kwargs = make_request(i)
                start = time.perf_counter()
                response = await client.request(method, url, **kwargs)
                latencies.append((time.perf_counter() - start) * 1000)
                if response.status_code not in expect:
                    errors += 1
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Result(label, len(latencies), errors, elapsed, latencies)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
