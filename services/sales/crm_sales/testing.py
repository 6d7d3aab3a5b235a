"""Helpers for tests that drive the sales service (this service's, the gateway's, end-to-end):
callers of every role and customer bodies with fresh, valid identifiers."""
from __future__ import annotations

import itertools
import random
from datetime import date, timedelta
from typing import Any

from crm_shared.auth import INTERNAL_TOKEN_HEADER, Principal, Role, issue_internal_token
from crm_shared.settings import DEV_INTERNAL_TOKEN_SECRET

from .domain.identifiers import make_bin, make_iin

# One caller per role, placed in Almaty (KZ-75, branch ALA-01) where a place matters.
PRINCIPALS: dict[str, Principal] = {
    "admin": Principal("t-admin", "admin", Role.ADMIN),
    "branch_agent": Principal("t-agent", "agent.ala01", Role.BRANCH_AGENT, region="KZ-75", branch="ALA-01"),
    "branch_manager": Principal("t-manager", "manager.ala01", Role.BRANCH_MANAGER, region="KZ-75", branch="ALA-01"),
    "regional_manager": Principal("t-regional", "regional.kz75", Role.REGIONAL_MANAGER, region="KZ-75",
                                  branch="ALA-02"),
    "call_center_agent": Principal("t-callcenter", "callcenter", Role.CALL_CENTER_AGENT),
    "hq_analyst": Principal("t-analyst", "analyst", Role.HQ_ANALYST),
}


# Test modules build their headers once at import; a long lifetime keeps them valid however long
# the whole suite runs (the production lifetime, crm_shared.auth.INTERNAL_TOKEN_TTL_S, is 2 minutes).
TEST_TOKEN_TTL_S = 24 * 3600


def auth_headers(principal: Principal, secret: str = DEV_INTERNAL_TOKEN_SECRET) -> dict[str, str]:
    return {INTERNAL_TOKEN_HEADER: issue_internal_token(principal, secret, ttl_s=TEST_TOKEN_TTL_S)}


class Identities:
    """Fresh valid IINs, BINs and mobile numbers; distinct from each other within one instance
    (seeded from ``seed``, so two instances with different seeds rarely collide)."""

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)
        self._serials = itertools.count(self._rng.randrange(0, 9000))
        self._used: set[str] = set()

    def iin(self, *, female: bool | None = None, birth_date: date | None = None) -> str:
        while True:
            born = birth_date or date(1950, 1, 1) + timedelta(days=self._rng.randrange(0, 365 * 55))
            value = make_iin(born, self._rng.random() < 0.5 if female is None else female,
                             next(self._serials) % 10000)
            if value and value not in self._used:
                self._used.add(value)
                return value

    def bin(self) -> str:
        while True:
            registered = date(2000, 1, 1) + timedelta(days=self._rng.randrange(0, 365 * 24))
            value = make_bin(registered, self._rng.choice((4, 4, 4, 6)), self._rng.randrange(0, 100000))
            if value and value not in self._used:
                self._used.add(value)
                return value

    def mobile(self) -> str:
        while True:
            value = "+7" + self._rng.choice(("700", "701", "702", "705", "707", "747", "771", "775", "777", "778")) + \
                f"{self._rng.randrange(0, 10_000_000):07d}"
            if value not in self._used:
                self._used.add(value)
                return value

    def individual(self, **overrides: Any) -> dict[str, Any]:
        body = {"kind": "individual", "iin": self.iin(), "first_name": "Aigerim", "last_name": "Seitkali",
                "phone": self.mobile()}
        return body | overrides

    def business(self, **overrides: Any) -> dict[str, Any]:
        body = {"kind": "business", "bin": self.bin(), "legal_name": "Steppe Logistics", "legal_form": "LLP",
                "phone": self.mobile()}
        return body | overrides
