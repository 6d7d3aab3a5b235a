"""Creating records in sales through its REST API (sales' gRPC API only reads): the customer a
partner brought and the partner-channel lead of an approved deal. Each request carries an
Idempotency-Key derived from the deal, so a retried approval creates nothing twice; the caller is
the partner channel itself, an internal identity placed in the partner's branch."""

from __future__ import annotations

from typing import Any

import httpx

from crm_shared.auth import INTERNAL_TOKEN_HEADER, Principal, issue_internal_token
from crm_shared.clients.sales import sales_unavailable
from crm_shared.errors import Problem

from ..config import PartnersSettings


class SalesRecords:
    name = "sales-records-client"

    def __init__(self, settings: PartnersSettings) -> None:
        self.settings = settings
        self._http: httpx.AsyncClient | None = None

    @property
    def ready(self) -> bool:
        return self._http is not None

    async def start(self) -> None:
        self._http = httpx.AsyncClient(base_url=self.settings.sales_url, timeout=self.settings.sales_http_timeout_s)

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        self._http = None

    async def create_customer(self, caller: Principal, body: dict[str, Any], key: str) -> dict[str, Any]:
        return await self._post(caller, "/api/v1/sales/customers", body, key)

    async def create_lead(self, caller: Principal, body: dict[str, Any], key: str) -> dict[str, Any]:
        return await self._post(caller, "/api/v1/sales/leads", body, key)

    async def _post(self, caller: Principal, path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
        if self._http is None:
            raise sales_unavailable()
        headers = {
            INTERNAL_TOKEN_HEADER: issue_internal_token(caller, self.settings.internal_token_secret),
            "Idempotency-Key": key,
        }
        try:
            reply = await self._http.post(path, json=body, headers=headers)
        except httpx.HTTPError:
            raise sales_unavailable() from None
        if reply.status_code >= 500:
            raise sales_unavailable()
        if reply.status_code >= 400:
            problem = reply.json() if reply.headers.get("content-type", "").endswith("json") else {}
            raise Problem(
                409 if reply.status_code == 409 else 422,
                "Sales refused the record",
                f"sales answered {reply.status_code}: {problem.get('detail', reply.text[:200])}",
                errors=problem.get("errors"),
                service="sales",
            )
        return reply.json()
