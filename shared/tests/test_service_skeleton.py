"""The service skeleton in crm_shared: domain errors answered at the edge, contract-checked
consumers, the shared time format and request base. Unit tests: no infrastructure."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from crm_shared.domain import Conflict, InvalidField, NotAllowed, RecordNotFound, StaleVersion
from crm_shared.envelope import CloudEvent
from crm_shared.errors import install_problem_handlers, problem_of
from crm_shared.schemas import Strict
from crm_shared.service import ConsumerSpec
from crm_shared.timefmt import iso


@pytest.mark.parametrize(
    ("error", "status", "field"),
    [
        (InvalidField("iin", "check digit does not match"), 422, "iin"),
        (RecordNotFound("customer", "c-1", field="customer_id"), 404, "customer_id"),
        (RecordNotFound("lead", "l-1"), 404, None),
        (Conflict("the opportunity is closed", allowed_transitions=["won"]), 409, None),
        (NotAllowed("analysts do not change records"), 403, None),
        (StaleVersion("lead is at version 3"), 412, None),
    ],
)
def test_domain_errors_are_answered_as_problems_naming_the_field(error, status, field):
    router = APIRouter()

    @router.get("/boom")
    async def boom():
        raise error

    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(router)
    response = TestClient(app).get("/boom")
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    if field:
        assert body["errors"][0]["field"] == field
    else:
        assert "errors" not in body


def test_domain_error_extensions_and_problem_type_reach_the_answer():
    problem = problem_of(Conflict("closed", problem_type="transition-not-allowed", allowed_transitions=["won"]))
    body = problem.body()
    assert body["type"].endswith("/transition-not-allowed")
    assert body["allowed_transitions"] == ["won"]
    assert problem_of(RecordNotFound("customer", "x")).detail == "customer x does not exist or is not visible to you"


def _event(type_: str, data: dict) -> CloudEvent:
    return CloudEvent(id="e-1", source="/crm/test", type=type_, subject="s-1", data=data)


async def test_consumer_spec_never_applies_an_event_that_breaks_its_contract(caplog):
    applied = []

    async def handler(session, event):
        applied.append(event.type)

    checked = ConsumerSpec("test", ["crm.gateway.branch.v1"], handler).contract_checked()
    await checked(None, _event("crm.gateway.branch.opened", {"code": 42}))
    assert applied == []
    assert "breaks its schema" in caplog.text
    await checked(None, _event("crm.unknown.thing.happened", {"anything": True}))
    assert applied == ["crm.unknown.thing.happened"]  # outside the catalogue: the handler decides


def test_iso_is_utc_with_z_for_datetimes_and_plain_for_dates():
    almaty = timezone(timedelta(hours=5))
    assert iso(datetime(2026, 1, 2, 8, 0, tzinfo=almaty)) == "2026-01-02T03:00:00Z"
    assert iso(datetime(2026, 1, 2, 3, 0)) == "2026-01-02T03:00:00Z"  # naive values are UTC
    assert iso(datetime(2026, 1, 2, 3, 0, tzinfo=UTC)) == "2026-01-02T03:00:00Z"
    assert iso(date(2026, 1, 2)) == "2026-01-02"
    assert iso(None) is None


def test_strict_bodies_refuse_unknown_fields():
    class Body(Strict):
        name: str

    with pytest.raises(ValidationError, match="extra"):
        Body(name="x", nmae="y")
