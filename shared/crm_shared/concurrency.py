"""Optimistic concurrency on updates (docs/development.md, "Updates"): every mutable record has
a ``version``; a response carries it as ``ETag: "<version>"``; a PATCH names the version it read
in ``If-Match`` (or a ``version`` body field) and gets 412 when the record has moved on since.

``what`` is the record type as the client knows it ("lead", "customer"): messages name it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any

from fastapi import Header
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from .errors import Problem, conflict, field_problem
from .idempotency import is_key_in_flight

MAX_VERSION_DIGITS = 18  # fits the database's BIGINT, and int() of it stays cheap
IfMatch = Annotated[str | None, Header(alias="If-Match", description='the ETag read, e.g. "3"')]


def etag(version: int) -> str:
    return f'"{version}"'


def version_headers(version: int, location: str | None = None) -> dict[str, str]:
    """``ETag`` of a record, and ``Location`` when the response is about a record just created."""
    headers = {"ETag": etag(version)}
    if location is not None:
        headers["Location"] = location
    return headers


def parse_if_match(if_match: str | None, what: str) -> int | None:
    """The version an ``If-Match`` header names (weak or strong ETag), None without the header."""
    if if_match is None:
        return None
    raw = if_match.strip()
    if raw.startswith("W/"):
        raw = raw[2:]
    raw = raw.strip('"')
    # isdecimal alone would take "²" or "٣" (a latin-1 or UTF-8 byte sequence can spell them).
    if not (raw.isascii() and raw.isdecimal() and len(raw) <= MAX_VERSION_DIGITS):
        raise Problem(
            400,
            "Bad request",
            f'If-Match: must be the ETag of the {what}, e.g. "3"',
            errors=[{"field": "If-Match", "message": 'must be a version ETag such as "3"'}],
        )
    return int(raw)


def required_version(if_match: str | None, body_version: int | None, what: str) -> int:
    """The version an update was based on: from If-Match or the body (428 when neither is sent)."""
    header_version = parse_if_match(if_match, what)
    if header_version is not None and body_version is not None and header_version != body_version:
        raise field_problem("version", f"differs from If-Match ({header_version}); send one of them")
    version = header_version if header_version is not None else body_version
    if version is None:
        raise Problem(
            428,
            "Precondition required",
            f'send If-Match: "<version>" (the ETag of the {what} you read) or "version" in the body',
            errors=[{"field": "If-Match", "message": "required (or version in the body)"}],
        )
    return version


def patch_changes(body: BaseModel, not_null: Iterable[str]) -> dict[str, Any]:
    """The fields a PATCH body sets (``version`` aside); 422 naming a field of ``not_null`` sent as null."""
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    for name in not_null:
        if name in changes and changes[name] is None:
            raise field_problem(name, "may not be null")
    return changes


def check_version(what: str, current: int, expected: int | None) -> None:
    """412 when the caller's version is not the record's; ``expected`` None means unconditional."""
    if expected is not None and expected != current:
        raise Problem(
            412,
            "Precondition failed",
            f"version {expected} is stale: the {what} is at version {current}; read it again",
            current_version=current,
        )


async def flush_or_conflict(
    session: AsyncSession, what: str = "record", unique_violation: Callable[[str], Problem | None] | None = None
) -> None:
    """Flushes now, so that what another transaction did meanwhile is a problem and not a 500:
    a record whose version moved after it was read (a mapper with ``version_id_col``) is a 412,
    the same Idempotency-Key still in flight a 409. ``unique_violation(database message)`` may
    turn the violation of one of the caller's unique keys into its own problem."""
    try:
        await session.flush()
    except StaleDataError:
        raise Problem(
            412, "Precondition failed", f"the {what} was changed by someone else at the same moment; read it again"
        ) from None
    except IntegrityError as exc:
        message = str(exc.orig)
        problem = unique_violation(message) if unique_violation is not None else None
        if problem is None and is_key_in_flight(message):
            problem = conflict("a request with this Idempotency-Key is already being processed; retry it shortly")
        if problem is not None:
            raise problem from None
        raise
