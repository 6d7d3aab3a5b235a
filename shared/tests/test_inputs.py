"""The NUL character is refused at the door of every app, with a 422 naming where it was."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, Form, Request

from crm_shared.app import create_service_app
from crm_shared.query import ANY, extra_query_parameters
from crm_shared.settings import ServiceSettings

router = APIRouter()


@router.post("/echo/{name}")
async def echo(name: str, request: Request) -> dict:
    return {"name": name, "query": dict(request.query_params), "body": (await request.body()).decode()}


@router.get("/echo/{name}")
@extra_query_parameters(ANY)  # echoes whatever it is given
async def echo_get(name: str, request: Request) -> dict:
    return {"name": name, "query": dict(request.query_params)}


@router.post("/sign-in")
async def sign_in(username: str = Form(), password: str = Form()) -> dict:
    return {"username": username}


@pytest.fixture
async def client():
    settings = ServiceSettings(service_name="inputs-test", database_url="sqlite+aiosqlite:///:memory:", log_json=False)
    app = create_service_app(settings, title="inputs", routers=[router])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as http:
        yield http


def refused_field(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"]
    (error,) = response.json()["errors"]
    assert error["message"] == "must not contain the NUL character (U+0000)"
    return error["field"]


async def test_a_nul_in_the_path_or_a_query_parameter_is_named(client):
    assert refused_field(await client.get("/echo/a%00b")) == "path"
    assert refused_field(await client.get("/echo/x", params={"limit": "5", "phone": "+7\x00"})) == "phone"
    assert (await client.get("/echo/x", params={"note": "100%"})).json()["query"] == {"note": "100%"}


async def test_a_nul_in_a_json_body_is_named_by_its_field(client):
    body = b'{"customer_id": "c-1", "items": [{"offering_id": "ok"}, {"offering_id": "tv\\u0000max"}]}'
    response = await client.post("/echo/x", content=body, headers={"content-type": "application/json"})
    assert refused_field(response) == "items.1.offering_id"
    raw = await client.post("/echo/x", content=b'{"name": "a\x00"}', headers={"content-type": "application/json"})
    assert refused_field(raw) == "name"


async def test_a_nul_in_a_form_field_is_named(client):
    assert refused_field(await client.post("/sign-in", data={"username": "ad\x00min", "password": "x"})) == "username"


async def test_bodies_without_a_nul_reach_the_app_unchanged(client):
    escaped = '{"note": "a backslash then u0000: \\\\u0000"}'
    response = await client.post("/echo/x", content=escaped.encode(), headers={"content-type": "application/json"})
    assert response.status_code == 200 and response.json()["body"] == escaped

    async def chunks():
        for part in (b'{"note": "', "қазақ".encode(), b'"}'):
            yield part

    streamed = await client.post("/echo/x", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 200 and streamed.json()["body"] == '{"note": "қазақ"}'
    assert (await client.get("/echo/y", params={"q": "ok"})).json() == {"name": "y", "query": {"q": "ok"}}
