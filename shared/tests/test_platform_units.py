"""Unit tests of the platform library's pure logic: no database, no broker."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import orjson
import pytest
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from pydantic import BaseModel, ValidationError

from crm_shared import auth
from crm_shared.auth import Principal, Role, issue_internal_token, verify_internal_token
from crm_shared.envelope import CloudEvent
from crm_shared.errors import PROBLEM_JSON, Problem, field_problem, install_problem_handlers
from crm_shared.kafka import start_publish_span_if_sampled
from crm_shared.models import OutboxEvent
from crm_shared.outbox import as_cloud_event
from crm_shared.pagination import decode_cursor, encode_cursor
from crm_shared.settings import MIN_SECRET_LENGTH, PUBLISHED_SECRETS, ServiceSettings, process_secret
from crm_shared.telemetry import set_sample_ratio

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def sample_event(**overrides) -> CloudEvent:
    values = dict(
        id="6f1c2a9e-1d3b-4a57-9b4e-0d7f5b2c8e11",
        source="/crm/sales",
        type="crm.sales.customer.created",
        subject="cust-42",
        data={"name": "Айгерім Сәрсенова", "amount_tiyn": 1_250_000, "tags": ["b2c"]},
        time=datetime(2025, 3, 1, 9, 30, 15, 123456, tzinfo=UTC),
        dataschema="urn:qazaq-crm:schema:crm.sales.customer.created:1",
        region="ALM",
        branch="ALM-01",
        trace_headers={"traceparent": TRACEPARENT},
    )
    values.update(overrides)
    return CloudEvent(**values)


class TestEnvelope:
    def test_binary_mode_round_trip_keeps_every_attribute(self):
        event = sample_event()
        headers = event.kafka_headers()
        decoded = CloudEvent.from_kafka(headers, event.kafka_value())
        assert decoded == event
        as_dict = dict(headers)
        assert as_dict["ce_specversion"] == b"1.0"
        assert as_dict["content-type"] == b"application/json"
        assert as_dict["ce_time"] == b"2025-03-01T09:30:15.123456Z"
        assert as_dict["ce_region"] == b"ALM"
        assert as_dict["traceparent"] == TRACEPARENT.encode()
        assert orjson.loads(event.kafka_value()) == event.data
        assert event.kafka_key() == b"cust-42"

    def test_optional_attributes_are_left_out_and_come_back_as_none(self):
        event = sample_event(dataschema=None, region=None, branch=None, trace_headers={})
        header_names = [name for name, _ in event.kafka_headers()]
        assert "ce_region" not in header_names and "ce_dataschema" not in header_names
        assert "traceparent" not in header_names
        decoded = CloudEvent.from_kafka(event.kafka_headers(), event.kafka_value())
        assert (decoded.region, decoded.branch, decoded.dataschema, decoded.trace_headers) == (None, None, None, {})

    def test_a_record_without_cloudevent_headers_is_refused_naming_what_is_missing(self):
        with pytest.raises(ValueError, match="ce_id|id"):
            CloudEvent.from_kafka([("ce_source", b"/crm/sales")], b"{}")

    def test_outbox_row_becomes_the_cloudevent_with_the_publish_span_headers(self):
        row = OutboxEvent(
            event_id="e-1",
            topic="crm.sales.customer.v1",
            key="cust-1",
            type="crm.sales.customer.created",
            source="/crm/sales",
            subject="cust-1",
            dataschema=None,
            region="AST",
            branch=None,
            data={"id": "cust-1"},
            trace_headers={"traceparent": "stored"},
            created_at=datetime(2025, 1, 2, tzinfo=UTC),
        )
        published = as_cloud_event(row, trace_headers={"traceparent": TRACEPARENT})
        assert (published.id, published.subject, published.region, published.time) == (
            "e-1",
            "cust-1",
            "AST",
            datetime(2025, 1, 2, tzinfo=UTC),
        )
        assert published.trace_headers == {"traceparent": TRACEPARENT}
        assert as_cloud_event(row).trace_headers == {"traceparent": "stored"}


class TestSampling:
    """Parent-based: a caller's sampled trace is always continued, a new trace by the ratio."""

    @pytest.fixture
    def nothing_new_sampled(self, span_exporter):
        set_sample_ratio(0.0)
        yield span_exporter
        set_sample_ratio(1.0)

    def test_a_new_trace_follows_the_ratio_and_a_sampled_callers_trace_is_always_recorded(self, nothing_new_sampled):
        tracer = trace.get_tracer("test")
        with tracer.start_as_current_span("GET /api/v1/sales/customers") as root:
            assert not root.is_recording()
        caller = TraceContextTextMapPropagator().extract({"traceparent": TRACEPARENT})
        with tracer.start_as_current_span("GET /api/v1/sales/customers", context=caller) as child:
            assert child.is_recording()
            assert child.get_span_context().trace_id == int(TRACEPARENT.split("-")[1], 16)

    def test_the_relay_makes_a_publish_span_only_for_an_event_written_under_a_sampled_trace(self, nothing_new_sampled):
        unsampled = {"traceparent": TRACEPARENT[:-2] + "00"}
        assert start_publish_span_if_sampled("t", message_id="e", key="k", parent_headers=unsampled) == (
            None,
            unsampled,
        )
        assert start_publish_span_if_sampled("t", message_id="e", key="k", parent_headers={}) == (None, {})
        span, headers = start_publish_span_if_sampled(
            "t", message_id="e", key="k", parent_headers={"traceparent": TRACEPARENT}
        )
        span.end()
        assert span.is_recording() is False  # ended
        assert span.parent.span_id == int(TRACEPARENT.split("-")[2], 16)
        assert headers["traceparent"].split("-")[1] == TRACEPARENT.split("-")[1]
        assert headers["traceparent"].endswith("-01")


class TestCursor:
    def test_round_trip_of_sort_keys(self):
        values = ["2025-03-01T09:30:15Z", "c0ffee", 17]
        cursor = encode_cursor(values)
        assert "=" not in cursor
        assert decode_cursor(cursor) == values

    def test_missing_cursor_means_first_page(self):
        assert decode_cursor(None) is None
        assert decode_cursor("") is None

    @pytest.mark.parametrize("garbage", ["%%%", "bm90LWpzb24", "not a cursor!"])
    def test_malformed_cursor_is_a_400_naming_the_field(self, garbage):
        with pytest.raises(Problem) as caught:
            decode_cursor(garbage)
        assert caught.value.status == 400
        assert caught.value.errors[0]["field"] == "cursor"

    def test_a_cursor_that_is_json_but_not_a_list_is_refused(self):
        with pytest.raises(Problem):
            decode_cursor(encode_cursor({"a": 1}))  # type: ignore[arg-type]


class TestSettings:
    def test_an_unset_secret_is_random_per_process_in_the_dev_profile(self):
        first, second = ServiceSettings(profile="dev"), ServiceSettings(profile="dev")
        assert first.internal_token_secret == second.internal_token_secret == process_secret("internal_token_secret")
        assert len(first.internal_token_secret) >= MIN_SECRET_LENGTH
        assert first.internal_token_secret not in PUBLISHED_SECRETS
        assert first.internal_token_secret not in repr(first)

    def test_a_secret_published_in_the_repository_is_refused_in_every_profile(self):
        for secret in PUBLISHED_SECRETS:
            for profile in ("dev", "production"):
                with pytest.raises(ValidationError, match="internal_token_secret is a value published"):
                    ServiceSettings(
                        profile=profile, database_url="postgresql+asyncpg://db/crm", internal_token_secret=secret
                    )

    def test_production_refuses_an_empty_or_short_secret_and_a_missing_database(self):
        with pytest.raises(ValidationError, match="internal_token_secret must be set"):
            ServiceSettings(profile="production", database_url="postgresql+asyncpg://db/crm", internal_token_secret="")
        with pytest.raises(ValidationError, match="at least 32 characters"):
            ServiceSettings(
                profile="production", database_url="postgresql+asyncpg://db/crm", internal_token_secret="s3cret"
            )
        with pytest.raises(ValidationError, match="database_url"):
            ServiceSettings(profile="production", internal_token_secret="s3cret-" + "x" * 32)

    def test_forwarded_headers_are_trusted_from_addresses_and_networks_only(self):
        assert ServiceSettings().forwarded_allow_ips == ""  # none: the client is the connection's peer
        assert ServiceSettings(forwarded_allow_ips="10.42.0.0/16, 192.0.2.7,::1").forwarded_allow_ips
        for wrong in ("*", "ingress-nginx", "10.42.0.0/40"):
            with pytest.raises(ValidationError, match="not an IP address or network"):
                ServiceSettings(forwarded_allow_ips=wrong)

    def test_production_with_real_secrets_starts(self):
        settings = ServiceSettings(
            profile="production", database_url="postgresql+asyncpg://db/crm", internal_token_secret="s3cret-" + "x" * 32
        )
        assert not settings.is_sqlite

    def test_production_refuses_the_relays_test_hook(self):
        with pytest.raises(ValidationError, match="relay_test_pause_file"):
            ServiceSettings(
                profile="production",
                database_url="postgresql+asyncpg://db/crm",
                internal_token_secret="s3cret-" + "x" * 32,
                relay_test_pause_file="/tmp/pause",
            )


class _Customer(BaseModel):
    iin: str
    age: int


def problem_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/customers")
    async def create(customer: _Customer):
        if not customer.iin.isdigit():
            raise field_problem("iin", "must be 12 digits")
        return customer

    @app.get("/boom")
    async def boom():
        raise RuntimeError("database password is hunter2")

    return app


class TestProblems:
    def test_field_problem_body(self):
        body = field_problem("iin", "check digit does not match").body("/api/v1/customers")
        assert body == {
            "type": "https://qazaq-crm.example/problems/validation",
            "title": "Validation failed",
            "status": 422,
            "detail": "iin: check digit does not match",
            "instance": "/api/v1/customers",
            "errors": [{"field": "iin", "message": "check digit does not match"}],
        }

    def test_extensions_are_part_of_the_body(self):
        body = Problem(409, "Conflict", "version changed", current_version=4).body()
        assert body["current_version"] == 4 and body["status"] == 409 and "instance" not in body

    async def test_requests_get_problem_json_naming_the_field_and_never_a_stack_trace(self):
        transport = httpx.ASGITransport(app=problem_app(), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            invalid = await client.post("/customers", json={"iin": "123", "age": "old"})
            domain = await client.post("/customers", json={"iin": "abc", "age": 30})
            crashed = await client.get("/boom")
        assert invalid.status_code == 422
        assert invalid.headers["content-type"] == PROBLEM_JSON
        assert [e["field"] for e in invalid.json()["errors"]] == ["age"]
        assert domain.status_code == 422 and domain.json()["errors"] == [
            {"field": "iin", "message": "must be 12 digits"}
        ]
        assert crashed.status_code == 500
        assert "hunter2" not in crashed.text and "Traceback" not in crashed.text
        assert crashed.json()["title"] == "Internal error"


class TestInternalToken:
    """The caller identity every service verifies; a verified token is remembered until it expires."""

    PRINCIPAL = Principal("user-1", "agent.ala01", Role.BRANCH_AGENT, region="KZ-75", branch="ALA-01")

    def test_a_token_is_verified_and_answered_from_memory_the_second_time(self, monkeypatch):
        token = issue_internal_token(self.PRINCIPAL, "secret-a" * 4, ttl_s=60)
        assert verify_internal_token(token, "secret-a" * 4) == self.PRINCIPAL
        monkeypatch.setattr(auth.jwt, "decode", lambda *a, **k: pytest.fail("decoded a remembered token again"))
        assert verify_internal_token(token, "secret-a" * 4) == self.PRINCIPAL

    def test_another_secret_or_an_expired_token_is_refused_even_when_remembered(self):
        token = issue_internal_token(self.PRINCIPAL, "secret-b" * 4, ttl_s=1)
        verify_internal_token(token, "secret-b" * 4)
        with pytest.raises(Problem) as wrong_secret:
            verify_internal_token(token, "secret-c" * 4)
        assert wrong_secret.value.status == 401
        time.sleep(2.1)  # past its expiry (whole seconds)
        with pytest.raises(Problem) as expired:
            verify_internal_token(token, "secret-b" * 4)
        assert expired.value.status == 401 and "expired" in expired.value.detail

    def test_a_token_without_an_expiry_is_refused(self):
        unbounded = auth.jwt.encode(
            self.PRINCIPAL.claims() | {"aud": auth.INTERNAL_AUDIENCE, "iss": auth.INTERNAL_ISSUER},
            "secret-d" * 4,
            algorithm="HS256",
        )
        with pytest.raises(Problem) as refused:
            verify_internal_token(unbounded, "secret-d" * 4)
        assert refused.value.status == 401


# --- broker reset detection of the relay (crm_shared.relay.BrokerLogWatch) ----------------------


def acks(*offsets: tuple[str, int, int]):
    from aiokafka.structs import RecordMetadata

    return [(None, RecordMetadata(topic, partition, None, offset, -1, 0, 0)) for topic, partition, offset in offsets]


def test_an_acknowledgement_below_the_end_seen_means_the_log_started_again():
    from crm_shared.relay import BrokerLogWatch

    watch = BrokerLogWatch()
    watch.acknowledged(acks(("t", 0, 0), ("t", 0, 1), ("t", 1, 0), ("u", 0, 7)))
    assert watch.ends == {("t", 0): 2, ("t", 1): 1, ("u", 0): 8} and not watch.restarted
    watch.acknowledged(acks(("t", 1, 1), ("u", 0, 8)))  # the log goes on
    assert not watch.restarted
    watch.acknowledged(acks(("t", 0, 0)))  # a new, empty log took the record at offset 0
    assert watch.restarted == {"t"} and watch.ends[("t", 0)] == 1


def test_end_offsets_below_the_end_seen_or_a_missing_topic_mean_the_log_started_again():
    from crm_shared.relay import BrokerLogWatch

    watch = BrokerLogWatch()
    watch.acknowledged(acks(("t", 0, 4), ("u", 0, 2), ("v", 2, 0)))
    assert watch.compare({"t": {0: 9, 1: 3}, "u": {0: 3}, "v": {2: 1}}) == set()  # others wrote too
    assert watch.ends[("t", 0)] == 9  # what the broker said raises what later checks expect
    assert watch.compare({"t": {0: 8}, "u": {0: 3}, "v": {}}) == {"t", "v"}  # shorter; gone
    watch.reset({"t": {0: 0}, "v": {}})  # healed: the new logs are the reference now
    assert not watch.restarted and watch.ends[("t", 0)] == 0 and ("v", 2) not in watch.ends
    assert watch.compare({"t": {0: 5}, "u": {0: 3}}) == set()
