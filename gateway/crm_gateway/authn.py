"""Who is calling: a user with a Bearer access token, or an external system with an API key.

Verified credentials are kept in memory for ``credential_cache_s`` (argon2 on every request
would dominate latency, and so would a database read): a revoked key, a deactivated user or a
changed role takes effect in this process at once and in every other within that window.

A bearer token's signature and claims are checked once and its claims kept (``VerifiedTokens``)
until the token expires; the account check behind it (active, token generation: what a password
change or deactivation revokes) still runs on every request, through the user cache above.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

import jwt
from fastapi import Request
from sqlalchemy import select, update

from crm_shared.auth import Principal, Role
from crm_shared.db import Database, utcnow
from crm_shared.errors import Problem

from .config import GatewaySettings
from .db.models import ApiKey, User
from .domain.api_keys import parse_key
from .passwords import Passwords

API_KEY_HEADER = "x-api-key"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="qazaq-crm"'}
MAX_CACHE_ENTRIES = 50_000
MAX_VERIFIED_TOKENS = 10_000

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """A small in-memory map whose entries expire ``ttl_s`` after they were stored."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> tuple[bool, V | None]:
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        if self.clock() - entry[0] >= self.ttl_s:
            del self._entries[key]
            return False, None
        return True, entry[1]

    def put(self, key: K, value: V) -> None:
        if len(self._entries) >= MAX_CACHE_ENTRIES:
            self._entries.clear()
        self._entries[key] = (self.clock(), value)

    def discard_where(self, predicate: Callable[[K, V], bool]) -> None:
        for key in [k for k, (_, v) in self._entries.items() if predicate(k, v)]:
            del self._entries[key]


class VerifiedTokens:
    """Bearer tokens whose signature and claims were verified: token -> claims, each kept until its
    ``exp`` (wall clock, as the JWT check itself), the least recently used dropped beyond ``max_entries``.
    An expired token is not found, so the full check runs again and refuses it."""

    def __init__(self, max_entries: int = MAX_VERIFIED_TOKENS, clock: Callable[[], float] = time.time) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._claims: OrderedDict[str, dict] = OrderedDict()

    def get(self, token: str) -> dict | None:
        claims = self._claims.get(token)
        if claims is None:
            return None
        if claims["exp"] <= self.clock():
            del self._claims[token]
            return None
        self._claims.move_to_end(token)
        return claims

    def put(self, token: str, claims: dict) -> None:
        self._claims[token] = claims
        self._claims.move_to_end(token)
        while len(self._claims) > self.max_entries:
            self._claims.popitem(last=False)

    def __len__(self) -> int:
        return len(self._claims)


@dataclass(frozen=True)
class Caller:
    """The authenticated caller, and the principal that services will see."""

    kind: Literal["user", "api_key", "customer"]
    principal: Principal
    full_name: str | None = None
    language: str | None = None

    @property
    def rate_limit_subject(self) -> str:
        return f"{self.kind}:{self.principal.subject}"


@dataclass(frozen=True)
class _UserState:
    caller: Caller
    active: bool
    token_generation: int


def unauthorized(detail: str) -> Problem:
    return Problem(401, "Unauthorized", detail, headers=CHALLENGE)


def user_caller(user: User) -> Caller:
    principal = Principal(
        subject=user.id,
        username=user.username,
        role=Role(user.role),
        region=user.region_code,
        branch=user.branch_code,
        partner_id=user.partner_id,
        full_name=user.full_name,
    )
    return Caller("user", principal, full_name=user.full_name, language=user.language)


def customer_caller(customer_id: str, name: str | None = None) -> Caller:
    """A customer signed in to the self-service portal: Role.CUSTOMER bound to their customer id."""
    principal = Principal(
        subject=f"customer:{customer_id}", username=name or customer_id, role=Role.CUSTOMER, customer_id=customer_id
    )
    return Caller("customer", principal, full_name=name)


def api_key_caller(key: ApiKey) -> Caller:
    principal = Principal(
        subject=key.id,
        username=key.name,
        role=Role.SYSTEM,
        region=key.region_code,
        branch=key.branch_code,
        scopes=tuple(key.scopes),
    )
    return Caller("api_key", principal, full_name=key.name)


class Authenticator:
    def __init__(
        self, settings: GatewaySettings, db: Database, passwords: Passwords, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self.db = db
        self.passwords = passwords
        self.clock = clock  # of the credential caches (replaceable in tests)
        self._users: TtlCache[str, _UserState | None] = TtlCache(settings.credential_cache_s, lambda: self.clock())
        self._api_keys: TtlCache[str, Caller] = TtlCache(settings.credential_cache_s, lambda: self.clock())
        self._verifying: dict[str, asyncio.Future[Caller | None]] = {}
        self._verified_tokens = VerifiedTokens()

    # --- access tokens -----------------------------------------------------------------

    def issue_access_token(self, user: User) -> tuple[str, int]:
        now = int(time.time())
        ttl = self.settings.access_token_ttl_s
        claims = {
            "sub": user.id,
            "name": user.username,
            "role": user.role,
            "region": user.region_code,
            "branch": user.branch_code,
            "partner": user.partner_id,
            "gen": user.token_generation,
            "iat": now,
            "exp": now + ttl,
        }
        return jwt.encode(claims, self.settings.jwt_secret, algorithm="HS256"), ttl

    def issue_customer_token(self, customer_id: str, name: str | None) -> tuple[str, int]:
        """A portal access token: role customer, bound to one customer id (no staff account behind it)."""
        now = int(time.time())
        ttl = self.settings.customer_token_ttl_s
        claims = {
            "sub": f"customer:{customer_id}",
            "name": name,
            "role": Role.CUSTOMER.value,
            "customer": customer_id,
            "iat": now,
            "exp": now + ttl,
        }
        return jwt.encode(claims, self.settings.jwt_secret, algorithm="HS256"), ttl

    # --- request authentication --------------------------------------------------------

    def credentials(self, request: Request) -> tuple[str, str] | None:
        """("bearer", token) or ("api_key", key) from the request headers, or None."""
        authorization = request.headers.get("authorization")
        if authorization:
            scheme, _, value = authorization.partition(" ")
            scheme = scheme.lower()
            if scheme == "bearer" and value.strip():
                return "bearer", value.strip()
            if scheme == "apikey" and value.strip():
                return "api_key", value.strip()
            raise unauthorized("Authorization must be 'Bearer <access token>' or 'ApiKey <key>'")
        api_key = request.headers.get(API_KEY_HEADER)
        if api_key:
            return "api_key", api_key.strip()
        return None

    async def authenticate_bearer(self, token: str) -> Caller:
        claims = self._verified_tokens.get(token)
        if claims is None:
            claims = self._verify_token(token)
            self._verified_tokens.put(token, claims)
        if claims.get("role") == Role.CUSTOMER.value:
            customer_id = claims.get("customer")
            if not isinstance(customer_id, str) or not customer_id:
                raise unauthorized("the access token is not valid")
            return customer_caller(customer_id, claims.get("name"))
        if "gen" not in claims:
            raise unauthorized("the access token is not valid")
        state = await self._user_state(str(claims["sub"]))
        if state is None or not state.active:
            raise unauthorized("the account is not active")
        if claims["gen"] != state.token_generation:
            raise unauthorized("the access token was issued before a password change; sign in again")
        return state.caller

    def _verify_token(self, token: str) -> dict:
        try:
            return jwt.decode(
                token, self.settings.jwt_secret, algorithms=["HS256"], options={"require": ["sub", "iat", "exp"]}
            )
        except jwt.ExpiredSignatureError:
            raise unauthorized("the access token has expired; request a new one") from None
        except jwt.PyJWTError:
            raise unauthorized("the access token is not valid") from None

    async def _user_state(self, user_id: str) -> _UserState | None:
        found, state = self._users.get(user_id)
        if found:
            return state
        async with self.db.read_only() as session:
            user = await session.get(User, user_id)
        state = _UserState(user_caller(user), user.active, user.token_generation) if user else None
        self._users.put(user_id, state)
        return state

    @staticmethod
    def _digest(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    def cached_api_key(self, key: str) -> Caller | None:
        """The caller of a key verified within the cache window (no database, no argon2)."""
        return self._api_keys.get(self._digest(key))[1]

    async def verify_api_key(self, key: str) -> Caller | None:
        """Verify a key against the database; the caller, or None when unknown, revoked or wrong.
        Concurrent requests with the same key share one verification (one argon2 run, not one
        per request, when the cache entry of a busy key expires)."""
        digest = self._digest(key)
        found, caller = self._api_keys.get(digest)
        if found:  # verified by a concurrent request while this one waited
            return caller
        pending = self._verifying.get(digest)
        if pending is None:
            pending = asyncio.ensure_future(self._verify_api_key(key, digest))
            self._verifying[digest] = pending
            pending.add_done_callback(lambda _: self._verifying.pop(digest, None))
        return await asyncio.shield(pending)

    async def _verify_api_key(self, key: str, digest: str) -> Caller | None:
        parsed = parse_key(key)
        if parsed is None:
            return None
        prefix, secret = parsed
        async with self.db.read_only() as session:
            record = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        if record is None or not record.active or not await self.passwords.verify(record.secret_hash, secret):
            return None
        caller = api_key_caller(record)
        self._api_keys.put(digest, caller)
        # Once per cache window per process, not per request.
        async with self.db.unit_of_work() as session:
            await session.execute(update(ApiKey).where(ApiKey.id == record.id).values(last_used_at=utcnow()))
        return caller

    def forget_user(self, user_id: str) -> None:
        self._users.discard_where(lambda key, _: key == user_id)

    def forget_api_key(self, key_id: str) -> None:
        self._api_keys.discard_where(lambda _, caller: caller.principal.subject == key_id)
