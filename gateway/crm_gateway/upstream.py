"""Forwarding to the routed services over one shared keep-alive HTTP client.

The caller's credentials never leave the gateway: the upstream request carries the internal
identity token (``x-crm-principal``) instead, plus the request id and the W3C trace context
(``TracedTransport``: the gateway's span when the trace is sampled).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

import httpx
from fastapi import Request, Response

from crm_shared.app import REQUEST_ID_HEADER
from crm_shared.auth import INTERNAL_TOKEN_HEADER, INTERNAL_TOKEN_TTL_S, Principal, issue_internal_token
from crm_shared.errors import Problem
from crm_shared.telemetry import TracedTransport

from .config import GatewaySettings

log = logging.getLogger("crm.gateway.upstream")

# Request headers a client may pass through to a service; everything else stays at the gateway
# (Authorization, X-API-Key, cookies, and any x-crm-principal the client made up). They go on as
# the bytes the client sent: a header is not text in any one encoding, and the service says what
# is wrong with a value it cannot use (a 4xx naming the header), not the gateway's encoder (a 500).
FORWARDED_REQUEST_HEADERS = frozenset(
    {
        b"accept",
        b"accept-language",
        b"content-type",
        b"if-match",
        b"if-none-match",
        b"idempotency-key",
    }
)
# Connection-level headers of the upstream response, and those the gateway sets itself.
DROPPED_RESPONSE_HEADERS = frozenset(
    name.encode()
    for name in (
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "content-encoding",
        "date",
        "server",
        REQUEST_ID_HEADER,
    )
)
HEALTH_TIMEOUT_S = 2.0
# A service builds its OpenAPI document on first request, which takes seconds on a busy machine.
OPENAPI_TIMEOUT_S = 15.0
MAX_TOKEN_CACHE_ENTRIES = 10_000


class InternalTokens:
    """Signs the internal identity token, reusing one per principal for half its lifetime."""

    def __init__(self, secret: str, ttl_s: int = INTERNAL_TOKEN_TTL_S) -> None:
        self.secret = secret
        self.ttl_s = ttl_s
        self._issued: dict[Principal, tuple[float, str]] = {}

    def token_for(self, principal: Principal) -> str:
        now = time.monotonic()
        cached = self._issued.get(principal)
        if cached is not None and now - cached[0] < self.ttl_s / 2:
            return cached[1]
        if len(self._issued) >= MAX_TOKEN_CACHE_ENTRIES:
            self._issued.clear()
        token = issue_internal_token(principal, self.secret, self.ttl_s)
        self._issued[principal] = (now, token)
        return token


def service_unavailable(service: str, detail: str) -> Problem:
    return Problem(
        503,
        "Service unavailable",
        f"the {service} service is not reachable: {detail}",
        headers={"Retry-After": "5"},
        service=service,
    )


class Upstreams:
    """The routed services and the HTTP client to them; a Worker, so the app's lifespan owns it."""

    name = "upstream-client"

    def __init__(self, settings: GatewaySettings, base_urls: Mapping[str, str]) -> None:
        """``base_urls``: routed service name -> its base URL."""
        self.settings = settings
        self.base_urls = {name: url.rstrip("/") for name, url in base_urls.items()}
        self.tokens = InternalTokens(settings.internal_token_secret)
        self.client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        limits = httpx.Limits(
            max_connections=self.settings.upstream_max_connections,
            max_keepalive_connections=self.settings.upstream_max_connections,
            keepalive_expiry=30,
        )
        self.client = httpx.AsyncClient(
            # retries=1: a new connection is retried once when connecting fails (never a sent request)
            transport=TracedTransport(httpx.AsyncHTTPTransport(limits=limits, retries=1)),
            timeout=httpx.Timeout(self.settings.upstream_timeout_s, connect=self.settings.upstream_connect_timeout_s),
            trust_env=False,
        )

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    @property
    def ready(self) -> bool:
        return self.client is not None

    def _client(self) -> httpx.AsyncClient:
        if self.client is None:
            raise Problem(503, "Service unavailable", "the gateway is starting or stopping")
        return self.client

    async def forward(self, service: str, request: Request, principal: Principal) -> Response:
        # The raw path and query, so that percent-encoding reaches the service unchanged.
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        url = self.base_urls[service] + raw_path.decode("latin-1")
        if request.scope.get("query_string"):
            url += "?" + request.scope["query_string"].decode("latin-1")
        headers = [(name, value) for name, value in request.headers.raw if name in FORWARDED_REQUEST_HEADERS]
        headers.append((INTERNAL_TOKEN_HEADER.encode(), self.tokens.token_for(principal).encode()))
        headers.append((REQUEST_ID_HEADER.encode(), request.state.request_id.encode("latin-1")))
        if request.client is not None:
            headers.append((b"x-forwarded-for", request.client.host.encode("latin-1")))
        has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
        body = await request.body() if has_body else b""
        try:
            upstream = await self._client().request(request.method, url, content=body or None, headers=headers)
        except httpx.ConnectTimeout:
            raise service_unavailable(service, "connecting timed out") from None
        except httpx.TimeoutException:
            raise Problem(
                504,
                "Gateway timeout",
                f"the {service} service did not answer within {self.settings.upstream_timeout_s:g} s",
                service=service,
            ) from None
        except httpx.ConnectError as exc:
            raise service_unavailable(service, exc.__class__.__name__) from None
        except httpx.TransportError as exc:
            log.warning("upstream %s failed: %r", service, exc)
            raise Problem(
                502, "Bad gateway", f"the {service} service broke off the response", service=service
            ) from None
        response = Response(upstream.content, status_code=upstream.status_code)
        # raw: repeated headers (Set-Cookie, Link) stay separate lines, and every value the bytes it was
        response.raw_headers.extend(
            (name.lower(), value)
            for name, value in upstream.headers.raw
            if name.lower() not in DROPPED_RESPONSE_HEADERS
        )
        return response

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        principal: Principal,
        *,
        request_id: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One request of the gateway's own (the portal's) to a service, as ``principal``: the service
        applies that principal's visibility itself. Unreachable or slow services are 503 / 504."""
        sent = {INTERNAL_TOKEN_HEADER: self.tokens.token_for(principal), REQUEST_ID_HEADER: request_id}
        try:
            return await self._client().request(
                method, self.base_urls[service] + path, params=params, json=json, headers=sent | dict(headers or {})
            )
        except httpx.ConnectTimeout:
            raise service_unavailable(service, "connecting timed out") from None
        except httpx.TimeoutException:
            raise Problem(
                504,
                "Gateway timeout",
                f"the {service} service did not answer within {self.settings.upstream_timeout_s:g} s",
                service=service,
            ) from None
        except httpx.TransportError as exc:
            raise service_unavailable(service, exc.__class__.__name__) from None

    async def get_json(
        self, service: str, path: str, params: Mapping[str, str | int], principal: Principal, request_id: str
    ) -> tuple[int, Any]:
        """GET ``path`` of a service as ``principal``: (status, parsed JSON body); 503, 504 or 502
        (and None) when the service cannot be reached, does not answer in time or breaks off."""
        headers = {
            INTERNAL_TOKEN_HEADER: self.tokens.token_for(principal),
            REQUEST_ID_HEADER: request_id,
            "accept": "application/json",
        }
        try:
            response = await self._client().get(self.base_urls[service] + path, params=params, headers=headers)
        except httpx.TimeoutException:
            return 504, None
        except httpx.ConnectError:
            return 503, None
        except httpx.TransportError as exc:
            log.warning("upstream %s failed: %r", service, exc)
            return 502, None
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, None

    async def readiness(self, service: str) -> str:
        """ "ok", or why the service is not ready."""
        try:
            response = await self._client().get(f"{self.base_urls[service]}/readyz", timeout=HEALTH_TIMEOUT_S)
        except httpx.HTTPError as exc:
            return f"down: {exc.__class__.__name__}"
        if response.status_code == 200:
            return "ok"
        return f"not ready: HTTP {response.status_code}"

    async def readiness_all(self) -> dict[str, str]:
        names = list(self.base_urls)
        results = await asyncio.gather(*(self.readiness(name) for name in names))
        return dict(zip(names, results))

    async def openapi_documents(self) -> dict[str, dict[str, Any] | None]:
        """Each service's /openapi.json, or None for a service that did not give one."""

        async def fetch(service: str) -> dict[str, Any] | None:
            try:
                response = await self._client().get(
                    f"{self.base_urls[service]}/openapi.json", timeout=OPENAPI_TIMEOUT_S
                )
                response.raise_for_status()
                return response.json()
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("no OpenAPI document from %s: %r", service, exc)
                return None

        names = list(self.base_urls)
        return dict(zip(names, await asyncio.gather(*(fetch(name) for name in names))))
