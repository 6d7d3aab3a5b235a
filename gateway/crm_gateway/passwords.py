"""Argon2 hashing of passwords and API-key secrets, off the event loop (it is CPU-heavy by design)."""
from __future__ import annotations

import asyncio
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_secret_sync(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret_sync(secret_hash: str, secret: str) -> bool:
    try:
        return _hasher.verify(secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


async def hash_secret(secret: str) -> str:
    return await asyncio.to_thread(hash_secret_sync, secret)


async def verify_secret(secret_hash: str, secret: str) -> bool:
    return await asyncio.to_thread(verify_secret_sync, secret_hash, secret)


def needs_rehash(secret_hash: str) -> bool:
    return _hasher.check_needs_rehash(secret_hash)


@cache
def _decoy_hash() -> str:
    return hash_secret_sync("decoy password for unknown users")


async def burn_verification(secret: str) -> None:
    """Spend what a real verification costs, so an unknown user answers like a wrong password."""
    await verify_secret(await asyncio.to_thread(_decoy_hash), secret)
