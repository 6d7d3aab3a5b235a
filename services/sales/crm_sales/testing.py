"""Helpers for tests that create customers in the sales service (this service's, the other
services', the gateway's, end-to-end): customer bodies with fresh, valid identifiers. Callers of
every role are crm_shared.testing.PRINCIPALS."""

from __future__ import annotations

import itertools
import random
from datetime import date, timedelta
from typing import Any

from .domain.identifiers import make_bin, make_iin


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
            value = make_iin(born, self._rng.random() < 0.5 if female is None else female, next(self._serials) % 10000)
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
            value = (
                "+7"
                + self._rng.choice(("700", "701", "702", "705", "707", "747", "771", "775", "777", "778"))
                + f"{self._rng.randrange(0, 10_000_000):07d}"
            )
            if value not in self._used:
                self._used.add(value)
                return value

    def individual(self, **overrides: Any) -> dict[str, Any]:
        body = {
            "kind": "individual",
            "iin": self.iin(),
            "first_name": "Aigerim",
            "last_name": "Seitkali",
            "phone": self.mobile(),
        }
        return body | overrides

    def business(self, **overrides: Any) -> dict[str, Any]:
        body = {
            "kind": "business",
            "bin": self.bin(),
            "legal_name": "Steppe Logistics",
            "legal_form": "LLP",
            "phone": self.mobile(),
        }
        return body | overrides
