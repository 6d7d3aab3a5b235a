"""Argon2 hashing of passwords and API-key secrets, off the event loop (it is CPU-heavy by design)."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .config import GatewaySettings


class Passwords:
    def __init__(self, time_cost: int = 3, memory_kib: int = 65536) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        self._decoy: str | None = None

    @classmethod
    def for_settings(cls, settings: GatewaySettings) -> Passwords:
        return cls(settings.password_hash_time_cost, settings.password_hash_memory_kib)

    def hash_sync(self, secret: str) -> str:
        return self._hasher.hash(secret)

    def _verify_sync(self, secret_hash: str, secret: str) -> bool:
        try:
            return self._hasher.verify(secret_hash, secret)
        except (VerificationError, InvalidHashError):
            return False

    async def hash(self, secret: str) -> str:
        return await asyncio.to_thread(self.hash_sync, secret)

    async def verify(self, secret_hash: str, secret: str) -> bool:
        return await asyncio.to_thread(self._verify_sync, secret_hash, secret)

    def needs_rehash(self, secret_hash: str) -> bool:
        """True for hashes made with other parameters than the current ones."""
        return self._hasher.check_needs_rehash(secret_hash)

    async def burn_verification(self, secret: str) -> None:
        """Spend what a real verification costs, so an unknown user answers like a wrong password."""
        if self._decoy is None:
            self._decoy = await self.hash("decoy password for unknown users")
        await self.verify(self._decoy, secret)
