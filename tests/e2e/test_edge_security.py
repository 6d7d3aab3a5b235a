"""The public door of a suite started as `crm up --seed` starts it: no token signed with a value
from the repository is accepted, sign-in throttling counts the real client and the account, header
values of any bytes are a 4xx naming the header, and the merged API document is whole."""

from __future__ import annotations

import stat
import time
import uuid

import httpx
import jwt
import pytest

from crm_cli.installation import SECRET_FILES
from crm_cli.testing import RunningSuite, sign_in
from crm_shared.auth import INTERNAL_TOKEN_HEADER, Principal, Role, issue_internal_token
from crm_shared.settings import PUBLISHED_SECRETS

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def client_at(suite: RunningSuite, address: str) -> httpx.AsyncClient:
    """A client connecting from ``address`` (any 127.x.y.z reaches the suite on 127.0.0.1): to the
    gateway, another machine."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=suite.gateway_url, transport=transport, timeout=30)


async def new_staff(client: httpx.AsyncClient, admin: dict[str, str], password: str) -> str:
    username = f"edge.{uuid.uuid4().hex[:10]}"
    created = await client.post(
        "/api/v1/admin/users",
        headers=admin,
        json={
            "username": username,
            "full_name": "Edge Test",
            "password": password,
            "role": "branch_agent",
            "branch_code": "ALA-01",
        },
    )
    assert created.status_code == 201, created.text
    return username


async def test_tokens_signed_with_a_published_secret_are_refused(suite: RunningSuite):
    now = int(time.time())
    forged_claims = {"sub": "user-admin", "name": "admin", "role": "admin", "gen": 1, "iat": now, "exp": now + 600}
    admin = Principal("user-admin", "admin", Role.ADMIN)
    async with httpx.AsyncClient(timeout=30) as client:
        for secret in PUBLISHED_SECRETS:
            forged = jwt.encode(forged_claims, secret, algorithm="HS256")
            me = await client.get(f"{suite.gateway_url}/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})
            assert me.status_code == 401, me.text
            # straight to a service, past the gateway: the identity the gateway would have signed
            sales = await client.get(
                f"http://127.0.0.1:{suite.port('sales')}/api/v1/sales/customers",
                headers={INTERNAL_TOKEN_HEADER: issue_internal_token(admin, secret)},
            )
            assert sales.status_code == 401, sales.text
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as gateway:
        real = await sign_in(gateway, "admin")  # signed with the installation's own secret
        assert (await gateway.get("/api/v1/auth/me", headers=real)).json()["role"] == "admin"


def test_the_installations_secrets_are_private_files(suite: RunningSuite):
    assert stat.S_IMODE(suite.var_dir.stat().st_mode) == 0o700
    for filename in SECRET_FILES.values():
        path = suite.var_dir / filename
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert path.read_text().strip() not in PUBLISHED_SECRETS


async def test_guesses_with_a_forged_x_forwarded_for_are_counted_against_the_real_client(suite: RunningSuite):
    """From 127.0.0.1, whose X-Forwarded-For uvicorn believes unless told otherwise."""
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        target = await new_staff(client, await sign_in(client, "admin"), "target-password-1")
        codes = []
        for n in range(8):
            answer = await client.post(
                "/api/v1/auth/token",
                data={"username": target, "password": f"guess-{n}"},
                headers={"X-Forwarded-For": f"198.51.100.{n}"},
            )
            codes.append(answer.status_code)
        assert codes == [401] * 5 + [429] * 3, codes
        right = await client.post("/api/v1/auth/token", data={"username": target, "password": "target-password-1"})
        assert right.status_code == 429 and int(right.headers["retry-after"]) >= 1
    async with client_at(suite, "127.0.0.5") as elsewhere:  # the owner, from another place
        answer = await elsewhere.post("/api/v1/auth/token", data={"username": target, "password": "target-password-1"})
        assert answer.status_code == 200, answer.text


async def test_a_throttled_address_still_signs_in_the_staff_who_work_there(suite: RunningSuite):
    """An office (127.0.0.3, another client to the gateway) where someone sprays a password over
    many accounts until the address is throttled."""
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as setup:
        admin = await sign_in(setup, "admin")
        colleague = await new_staff(setup, admin, "colleague-password-1")
        newcomer = await new_staff(setup, admin, "newcomer-password-1")
    colleague_form = {"username": colleague, "password": "colleague-password-1"}
    async with client_at(suite, "127.0.0.3") as office:
        assert (await office.post("/api/v1/auth/token", data=colleague_form)).status_code == 200
        codes = []
        for n in range(200):  # burst 30, refilled while the guesses run: more on a slow machine
            answer = await office.post("/api/v1/auth/token", data={"username": f"staff.{n}", "password": "Qwerty123"})
            codes.append(answer.status_code)
            if answer.status_code == 429:
                break
        assert codes[-1] == 429 and set(codes[:-1]) == {401}, codes
        assert (await office.post("/api/v1/auth/token", data=colleague_form)).status_code == 200
        # The address's bucket refills (10 a minute) while the colleague signs in on a slow machine:
        # empty it again (a guess answered 429 costs nothing), so the check below never races it.
        for n in range(40):
            guess = await office.post("/api/v1/auth/token", data={"username": f"again.{n}", "password": "Qwerty123"})
            if guess.status_code == 429:
                break
        # a first sign-in from there waits (letting it in would tell a sprayer which guess was right)
        first = await office.post("/api/v1/auth/token", data={"username": newcomer, "password": "newcomer-password-1"})
        assert first.status_code == 429, first.text


async def writes_of_every_service(client: httpx.AsyncClient, admin: dict[str, str]) -> dict[str, list]:
    """For each header, requests of every service that read it: (method, path, JSON body)."""
    customer = (await client.get("/api/v1/sales/customers", headers=admin, params={"limit": 1})).json()["items"][0]
    order_body = {"customer_id": customer["id"], "items": [{"offering_id": "tv-base"}]}
    ticket_body = {"customer_id": customer["id"], "name": "Edge", "description": "Bytes", "category": "internet"}
    order = (await client.post("/api/v1/orders/orders", headers=admin, json=order_body)).json()
    ticket = (await client.post("/api/v1/tickets/tickets", headers=admin, json=ticket_body)).json()
    lead_body = {"source": "web", "name": "Edge", "interest": "internet", "phone": "+77015550199"}
    return {
        "idempotency-key": [
            ("POST", "/api/v1/sales/leads", lead_body),
            ("POST", "/api/v1/orders/orders", order_body),
            ("POST", "/api/v1/tickets/tickets", ticket_body),
        ],
        "if-match": [
            ("PATCH", f"/api/v1/sales/customers/{customer['id']}", {"language": "kk"}),
            ("PATCH", f"/api/v1/orders/orders/{order['id']}/state", {"state": "held", "reason": "edge"}),
            ("PATCH", f"/api/v1/tickets/tickets/{ticket['id']}", {"location": "Entrance 2"}),
        ],
        "x-request-id": [("GET", "/api/v1/sales/customers", None), ("GET", "/api/v1/orders/orders", None)],
    }


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("idempotency-key", "қазақ-1".encode()),  # UTF-8
        ("idempotency-key", b"caf\xe9"),  # latin-1
        ("if-match", b'"\xb2"'),  # latin-1 superscript two
        ("if-match", '"қ"'.encode()),
        ("x-request-id", "сұрау-1".encode()),
    ],
    ids=["idempotency-utf8", "idempotency-latin1", "if-match-latin1", "if-match-utf8", "request-id-utf8"],
)
async def test_header_values_of_any_bytes_are_a_400_naming_the_header_in_every_service(
    suite: RunningSuite, name: str, value: bytes
):
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        admin = await sign_in(client, "admin")
        for method, path, body in (await writes_of_every_service(client, admin))[name]:
            answer = await client.request(
                method,
                path,
                json=body,
                headers=[(b"authorization", admin["Authorization"].encode()), (name.encode(), value)],
            )
            assert answer.status_code == 400, (path, answer.status_code, answer.text)
            assert [e["field"].lower() for e in answer.json()["errors"]] == [name], answer.text


async def test_the_merged_document_refers_only_to_schemas_it_has(suite: RunningSuite):
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=60) as client:
        document = (await client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    references: list[str] = []

    def collect(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str):
                    references.append(value)
                elif key == "mapping" and isinstance(value, dict):
                    references.extend(v for v in value.values() if isinstance(v, str))
                else:
                    collect(value)
        elif isinstance(node, list):
            for item in node:
                collect(item)

    collect(document)
    assert "#/components/schemas/sales.IndividualCreate" in references  # the customer-create mapping
    missing = {r for r in references if r.startswith("#/components/schemas/") and r.rsplit("/", 1)[1] not in schemas}
    assert not missing, sorted(missing)
