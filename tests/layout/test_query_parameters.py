"""No endpoint of any service in the registry silently ignores a query parameter: every GET
operation of each app's OpenAPI document, given a parameter it does not declare, answers 422
naming it (crm_shared.query). Runs on the apps without their databases: the refusal comes before
anything else of the route."""

from __future__ import annotations

import re

import httpx
import pytest

from crm_cli.services import SERVICES, load, missing_parts, settings_for

UNKNOWN = "no_such_parameter"
AVAILABLE = [spec for spec in SERVICES if not missing_parts(spec)]


@pytest.mark.parametrize("spec", AVAILABLE, ids=[spec.name for spec in AVAILABLE])
async def test_every_get_route_refuses_a_query_parameter_it_does_not_know(spec, tmp_path):
    settings = settings_for(spec, database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")
    app = load(spec.app_factory)(settings)
    paths = [path for path, operations in app.openapi()["paths"].items() if "get" in operations]
    assert paths, f"{spec.name} documents no GET operation"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        for path in paths:
            response = await client.get(re.sub(r"\{[^}]+\}", "x", path), params={UNKNOWN: "1"})
            assert response.status_code == 422, f"{spec.name} GET {path} ignored ?{UNKNOWN}: {response.text}"
            assert response.json()["errors"][0]["field"] == UNKNOWN
