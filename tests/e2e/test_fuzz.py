"""Schemathesis over the gateway's whole merged OpenAPI document, as a branch agent and as an
administrator, against the suite `crm up --seed` starts: no answer is a 5xx, and every answer
matches the schema its operation documents for that status.

The budget is fixed so that the test takes a few minutes and finds the same things on every run:
Hypothesis derandomized, POSITIVE_EXAMPLES valid and NEGATIVE_EXAMPLES invalid requests per
operation and role, plus the document's own examples. The fuzzer is a client of its own (it
connects from 127.0.0.2): the sign-ins it gets wrong throttle that address, not the other tests'.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from requests.adapters import HTTPAdapter
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from crm_cli.testing import RunningSuite

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.timeout(900)]

POSITIVE_EXAMPLES = 6
NEGATIVE_EXAMPLES = 3
ROLES = {"branch_agent": "almaty.agent", "admin": "admin"}
FUZZER_ADDRESS = "127.0.0.2"
CHECKS = [not_a_server_error, response_schema_conformance]


class FromAddress(HTTPAdapter):
    """Connections from one local address (any 127.x.y.z reaches the suite on 127.0.0.1)."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        return super().init_poolmanager(*args, **kwargs)


@dataclass(frozen=True)
class Failure:
    operation: str
    role: str
    status: int | str
    what: str
    reproduce: str
    checks: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.operation} as {self.role} -> {self.status}\n{self.what}\n{self.reproduce}"


def signed_in(session: requests.Session, gateway: str, username: str) -> dict[str, str]:
    answer = session.post(f"{gateway}/api/v1/auth/token", data={"username": username, "password": "demo"}, timeout=30)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@dataclass
class Fuzzer:
    gateway: str
    session: requests.Session
    failures: list[Failure] = field(default_factory=list)
    statuses: collections.Counter[tuple[str, int]] = field(default_factory=collections.Counter)

    def exercise(self, operation, role: str, headers: dict[str, str], mode: GenerationMode, examples: int) -> None:
        @settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def one_case(case):
            try:
                response = case.call(base_url=self.gateway, headers=headers, session=self.session, timeout=60)
            except requests.RequestException as exc:
                self.failures.append(Failure(operation.label, role, "no answer", repr(exc), case.as_curl_command()))
                return
            self.statuses[(role, response.status_code)] += 1
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except BaseExceptionGroup as found:  # schemathesis' FailureGroup
                checks = tuple(sorted({getattr(e, "title", type(e).__name__) for e in found.exceptions}))
                self.failures.append(
                    Failure(operation.label, role, response.status_code, str(found), case.as_curl_command(), checks)
                )

        one_case()


def test_no_input_gets_a_5xx_or_an_answer_its_schema_does_not_describe(suite: RunningSuite):
    session = requests.Session()
    session.mount("http://", FromAddress(FUZZER_ADDRESS))
    fuzzer = Fuzzer(suite.gateway_url, session)
    document = session.get(f"{fuzzer.gateway}/openapi.json", timeout=60).json()
    assert "x-unavailable-services" not in document, document["x-unavailable-services"]
    operations = [result.ok() for result in schemathesis.openapi.from_dict(document).get_all_operations()]
    callers = {role: signed_in(session, fuzzer.gateway, username) for role, username in ROLES.items()}

    for operation in operations:
        for role, headers in callers.items():
            fuzzer.exercise(operation, role, headers, GenerationMode.POSITIVE, POSITIVE_EXAMPLES)
            fuzzer.exercise(operation, role, headers, GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES)

    for role in callers:  # the fuzzer got through the door, and many of its cases through validation
        assert fuzzer.statuses[(role, 200)] + fuzzer.statuses[(role, 201)] > len(operations) // 2, fuzzer.statuses
    distinct = {(f.operation, f.status, f.checks): f for f in fuzzer.failures}
    assert not distinct, f"{len(distinct)} distinct failures:\n\n" + "\n\n".join(map(str, distinct.values()))
