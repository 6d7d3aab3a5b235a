"""Throttling of failed authentication, so that guessing passwords is slow without locking out the
people who share an address with a guesser.

A failed sign-in takes a token from three buckets (crm_gateway.ratelimit, shared by every gateway
process), each answering one way of guessing:

- the account from this address (tight): one machine guessing one user's password;
- the account from anywhere (tight): many machines guessing one user's password;
- this address, whatever the account (generous, and shared with wrong API keys): one machine
  trying a few common passwords on many accounts. Generous because a branch office, a call centre
  or an ingress puts many people behind one address.

An attempt is refused (429) while its account-from-this-address bucket is empty. It is also refused
while the address's or the account's bucket is empty, unless the user has signed in with the right
password from this address within ``known_origin_days`` (``sign_in_origins``): the staff of an
office keep signing in while someone there, or a botnet elsewhere, spends those buckets. A first
sign-in from a throttled address waits like a guess does: anything that let an unknown account in
from there would also tell a password sprayer which of its guesses were right.

Accounts are keyed by the username as typed (normalised), hashed: an unknown username is throttled
like a real one (the answers do not tell them apart), and a password typed into the username box
is not stored. IPv6 clients are keyed by their /64, which one client can rotate through at will.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from crm_shared.db import Database, utcnow

from .config import GatewaySettings
from .db.models import SignInOrigin
from .ratelimit import Decision, RateLimiter

IPV6_SITE_PREFIX = 64


def address_key(host: str) -> str:
    """The client address as throttling counts it: IPv4 as it is, IPv6 as its /64."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]  # not an IP (a test client, a unix socket): as it is
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/{IPV6_SITE_PREFIX}", strict=False))
    return str(address)


def account_key(username: str) -> str:
    return hashlib.sha256(username.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True)
class Bucket:
    subject: str
    per_minute: float
    burst: int


@dataclass(frozen=True)
class Refusal:
    decision: Decision
    detail: str


class AuthThrottle:
    def __init__(self, settings: GatewaySettings, db: Database, limiter: RateLimiter) -> None:
        self.settings = settings
        self.db = db
        self.limiter = limiter

    # --- the buckets -------------------------------------------------------------------------

    def address_bucket(self, address: str) -> Bucket:
        s = self.settings
        return Bucket(f"auth-failures:{address_key(address)}", s.auth_failures_per_minute, s.auth_failures_burst)

    def account_bucket(self, username: str) -> Bucket:
        s = self.settings
        return Bucket(
            f"sign-in-account:{account_key(username)}", s.account_failures_per_minute, s.account_failures_burst
        )

    def account_address_bucket(self, username: str, address: str) -> Bucket:
        s = self.settings
        return Bucket(
            f"sign-in-pair:{account_key(username)}:{address_key(address)}",
            s.account_address_failures_per_minute,
            s.account_address_failures_burst,
        )

    async def _peek(self, bucket: Bucket) -> Decision:
        return await self.limiter.peek(bucket.subject, bucket.per_minute, bucket.burst)

    async def _spend(self, bucket: Bucket) -> None:
        await self.limiter.acquire(bucket.subject, bucket.per_minute, bucket.burst)

    # --- sign-in ---------------------------------------------------------------------------

    async def sign_in_refusal(self, username: str, address: str, user_id: str | None) -> Refusal | None:
        """Why this sign-in attempt may not be tried now, or None. ``user_id``: the account the
        username names, when there is one."""
        pair = await self._peek(self.account_address_bucket(username, address))
        if not pair.allowed:
            return Refusal(pair, "too many failed sign-ins to this account from this address")
        by_address = await self._peek(self.address_bucket(address))
        by_account = await self._peek(self.account_bucket(username))
        if by_address.allowed and by_account.allowed:
            return None
        if user_id is not None and await self.is_known_origin(user_id, address):
            return None
        if not by_address.allowed:
            return Refusal(by_address, "too many failed sign-ins from this address")
        return Refusal(by_account, "too many failed sign-ins to this account")

    async def sign_in_failed(self, username: str, address: str) -> None:
        for bucket in (
            self.account_address_bucket(username, address),
            self.account_bucket(username),
            self.address_bucket(address),
        ):
            await self._spend(bucket)

    async def signed_in(self, user_id: str, address: str) -> None:
        """Remember the address as one the user signs in from (and forget their stale ones)."""
        now = utcnow()
        table = SignInOrigin.__table__
        insert = (postgresql.insert if self.db.is_postgres else sqlite.insert)(table)
        upsert = insert.values(user_id=user_id, address=address_key(address), last_success_at=now)
        upsert = upsert.on_conflict_do_update(
            index_elements=[table.c.user_id, table.c.address], set_={"last_success_at": now}
        )
        async with self.db.unit_of_work() as session:
            await session.execute(upsert)
            await session.execute(
                delete(SignInOrigin).where(
                    SignInOrigin.user_id == user_id, SignInOrigin.last_success_at < now - self._known_for
                )
            )

    async def is_known_origin(self, user_id: str, address: str) -> bool:
        async with self.db.read_only() as session:
            origin = await session.get(SignInOrigin, (user_id, address_key(address)))
        return origin is not None and origin.last_success_at >= utcnow() - self._known_for

    @property
    def _known_for(self) -> timedelta:
        return timedelta(days=self.settings.known_origin_days)

    # --- API keys ----------------------------------------------------------------------------

    async def api_key_refusal(self, address: str) -> Refusal | None:
        """API keys are long random secrets, not guessable: their failures count only against the
        address (sparing the argon2 work of a flood of wrong keys)."""
        decision = await self._peek(self.address_bucket(address))
        return (
            None if decision.allowed else Refusal(decision, "too many failed authentication attempts from this address")
        )

    async def api_key_failed(self, address: str) -> None:
        await self._spend(self.address_bucket(address))
