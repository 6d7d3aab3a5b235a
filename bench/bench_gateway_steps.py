"""The gateway's per-request steps in isolation, CPU per call in one process (no servers, no
database): the bearer check (``jwt.decode``) against a hit of the verified-token cache, and the
tracing middleware on an unsampled and a sampled request, OpenTelemetry's ASGI middleware against
ours (``crm_shared.telemetry.TracingMiddleware``), each around the same empty ASGI app.

    .venv/bin/python -m bench.bench_gateway_steps [--calls 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import jwt

from crm_gateway.authn import VerifiedTokens
from crm_shared.telemetry import TracingMiddleware, set_sample_ratio, setup_tracing

SECRET = "s" * 48
WARMUP_CALLS = 2000


def bearer_token() -> str:
    now = int(time.time())
    claims = {"sub": "user-1", "name": "callcenter", "role": "callcenter", "gen": 1, "iat": now, "exp": now + 3600}
    return jwt.encode(claims, SECRET, algorithm="HS256")


def cpu_us_per_call(call, calls: int) -> float:
    started = time.process_time()
    for _ in range(calls):
        call()
    return (time.process_time() - started) / calls * 1e6


async def empty_app(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def receive() -> dict:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message) -> None:
    return None


def request_scope(token: str) -> dict:
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"authorization", b"Bearer " + token.encode()),
        (b"accept", b"*/*"),
        (b"x-request-id", b"bench"),
    ]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/v1/sales/customers",
        "raw_path": b"/api/v1/sales/customers",
        "root_path": "",
        "query_string": b"phone=%2B77011234567",
        "headers": headers,
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
    }


async def middleware_us(app, token: str, calls: int) -> float:
    for _ in range(WARMUP_CALLS):
        await app(request_scope(token), receive, send)
    started = time.process_time()
    for _ in range(calls):
        await app(request_scope(token), receive, send)
    return (time.process_time() - started) / calls * 1e6


async def tracing_figures(token: str, calls: int) -> None:
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    def otel():
        return OpenTelemetryMiddleware(
            empty_app, excluded_urls="healthz,readyz,metrics", exclude_spans=["receive", "send"]
        )

    bare = await middleware_us(empty_app, token, calls)
    for label, ratio in (("unsampled", 0.0), ("sampled, no exporter", 1.0)):
        set_sample_ratio(ratio)
        theirs = await middleware_us(otel(), token, calls) - bare
        ours = await middleware_us(TracingMiddleware(empty_app), token, calls) - bare
        print(f"{label} request: OpenTelemetry ASGI middleware +{theirs:.1f} us, TracingMiddleware +{ours:.1f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    calls = parser.parse_args().calls
    token = bearer_token()
    decode = cpu_us_per_call(
        lambda: jwt.decode(token, SECRET, algorithms=["HS256"], options={"require": ["sub", "iat", "exp"]}), calls
    )
    cache = VerifiedTokens()
    cache.put(token, jwt.decode(token, SECRET, algorithms=["HS256"]))
    hit = cpu_us_per_call(lambda: cache.get(token), calls)
    print(f"bearer check: jwt.decode {decode:.1f} us, verified-token cache hit {hit:.2f} us")
    setup_tracing("bench-gateway-steps", sample_ratio=0.0)
    asyncio.run(tracing_figures(token, calls))


if __name__ == "__main__":
    main()
