"""The gateway's health (with every routed service's readiness) and the merged OpenAPI document."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..openapi import merge_openapi
from ..state import gateway_of

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    """200 while the gateway itself works ("ok", or "degraded" when a routed service is not
    ready); 503 when the gateway cannot reach its own database."""
    gateway = gateway_of(request)
    try:
        await gateway.db.ping()
        database = "ok"
    except Exception as exc:  # health reports, it does not raise
        database = f"down: {exc.__class__.__name__}"
    services = await gateway.upstreams.readiness_all()
    healthy = database == "ok"
    status = "ok" if healthy and all(s == "ok" for s in services.values()) else "degraded"
    return JSONResponse(
        {"status": status, "service": "gateway", "checks": {"database": database}, "services": services},
        status_code=200 if healthy else 503,
    )


@router.get("/openapi.json")
async def openapi(request: Request) -> JSONResponse:
    gateway = gateway_of(request)
    documents = await gateway.upstreams.openapi_documents()
    return JSONResponse(merge_openapi(request.app.openapi(), documents, gateway.public_prefixes))
