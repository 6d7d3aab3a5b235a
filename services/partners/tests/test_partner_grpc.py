"""crm.partners.v1.PartnerService on a real gRPC server (the app's own, started by its lifespan on a
free port), called with the identities of different roles; the standard health service answers
for it."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crm_contracts.grpc.crm.partners.v1 import partner_service_pb2 as pb
from crm_contracts.grpc.crm.partners.v1 import partner_service_pb2_grpc as pb_grpc
from crm_partners.config import PartnersSettings
from crm_shared.broker import free_port
from crm_shared.grpc import field_violations, open_channel, principal_metadata
from crm_shared.testing import PRINCIPALS, TEST_INTERNAL_TOKEN_SECRET, auth_headers

pytestmark = pytest.mark.integration

COLLECTION = "/api/v1/partners/partners"
SERVICE = pb.DESCRIPTOR.services_by_name["PartnerService"].full_name


@pytest.fixture(scope="module")
def settings(database_url) -> PartnersSettings:
    return PartnersSettings(
        database_url=database_url,
        relay_enabled=False,
        consumers_enabled=False,
        grpc_enabled=True,
        grpc_port=free_port(),
        log_json=False,
        log_level="WARNING",
    )


@pytest_asyncio.fixture(scope="module")
async def stub(app, settings):
    channel = await open_channel(f"{settings.grpc_host}:{settings.grpc_port}")
    try:
        yield pb_grpc.PartnerServiceStub(channel)
    finally:
        await channel.close()


def caller(role: str):
    return principal_metadata(PRINCIPALS[role], TEST_INTERNAL_TOKEN_SECRET)


async def test_the_health_service_reports_the_server_serving(app, settings):
    channel = await open_channel(f"{settings.grpc_host}:{settings.grpc_port}")
    try:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", SERVICE):
            reply = await health.Check(health_pb2.HealthCheckRequest(service=service))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING, service
    finally:
        await channel.close()


async def test_get_partner_answers_as_the_caller_may_see(client, stub):
    almaty = await client.post(COLLECTION, json={"name": "Almaty"}, headers=auth_headers(PRINCIPALS["branch_agent"]))
    karaganda = await client.post(
        COLLECTION,
        json={"name": "Karaganda", "notes": "by the station", "branch_code": "KAR-01", "region_code": "KZ-35"},
        headers=auth_headers(PRINCIPALS["admin"]),
    )
    almaty, karaganda = almaty.json(), karaganda.json()

    reply = await stub.GetPartner(pb.GetPartnerRequest(id=almaty["id"]), metadata=caller("branch_agent"))
    assert (reply.partner.id, reply.partner.name, reply.partner.branch_code) == (almaty["id"], "Almaty", "ALA-01")
    assert reply.partner.version == 1 and not reply.partner.HasField("notes")
    assert reply.partner.created_at.ToDatetime(tzinfo=UTC) == datetime.fromisoformat(almaty["created_at"])
    reply = await stub.GetPartner(pb.GetPartnerRequest(id=karaganda["id"]), metadata=caller("call_center_agent"))
    assert reply.partner.notes == "by the station" and reply.partner.region_code == "KZ-35"

    refusals = [
        (karaganda["id"], caller("branch_agent"), grpc.StatusCode.NOT_FOUND),  # hidden is answered as absent
        ("no-such-id", caller("admin"), grpc.StatusCode.NOT_FOUND),
        (almaty["id"], caller("hq_analyst"), grpc.StatusCode.PERMISSION_DENIED),
        (almaty["id"], (), grpc.StatusCode.UNAUTHENTICATED),
    ]
    for ident, metadata, code in refusals:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.GetPartner(pb.GetPartnerRequest(id=ident), metadata=metadata)
        assert refused.value.code() is code, (ident, code)

    with pytest.raises(grpc.aio.AioRpcError) as invalid:
        await stub.GetPartner(pb.GetPartnerRequest(), metadata=caller("admin"))
    assert invalid.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(invalid.value) == [{"field": "id", "message": "required"}]
