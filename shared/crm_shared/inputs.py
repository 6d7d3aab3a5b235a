"""Refuses the NUL character (U+0000) in a request's path, query or body, naming where it is.

PostgreSQL cannot hold NUL in text: a value carrying one failed deep in a query, as a 500 (or, met
by another service over gRPC, as a 503). No field of the suite has a use for it, so every app
refuses it at the door with a 422 that names the field, before any code sees the value.

Plain ASGI; a body is parsed here only when its bytes may spell a NUL (a raw 0x00, JSON's
\\u0000, a form's %00), to find the field (an escaped backslash before "u0000" is no NUL).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, unquote

from fastapi.responses import JSONResponse

from .errors import PROBLEM_JSON, field_problem

NUL = "\x00"
NUL_SPELLINGS = (b"\x00", b"\\u0000", b"%00")
MESSAGE = "must not contain the NUL character (U+0000)"


def field_with_nul(value: Any, path: tuple[str, ...] = ()) -> str | None:
    """The dotted path (as validation errors name fields: items.0.name) of the first string in a
    parsed JSON value that holds NUL, or None."""
    if isinstance(value, str):
        return ".".join(path) or "body" if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            name = key.replace(NUL, "\\u0000")
            if NUL in key:
                return ".".join((*path, name))
            found = field_with_nul(item, (*path, name))
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = field_with_nul(item, (*path, str(index)))
            if found:
                return found
    return None


def _field_in_pairs(encoded: str) -> str | None:
    for name, value in parse_qsl(encoded, keep_blank_values=True):
        if NUL in name or NUL in value:
            return name.replace(NUL, "\\u0000") or "query"
    return None


def field_in_body(body: bytes, content_type: str) -> str | None:
    if "application/x-www-form-urlencoded" in content_type:
        return _field_in_pairs(body.decode("latin-1"))
    if "json" in content_type:
        try:
            return field_with_nul(json.loads(body, strict=False))  # strict would stop at a raw NUL
        except ValueError:
            return None  # not JSON: the app's own parsing answers it (422)
    return "body" if b"\x00" in body else None


class NulCharacterGuard:
    """Reads a request's body before the app does (the app would read all of it anyway), so that
    a refusal comes before any code sees a value; requests without a body pass straight through."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if NUL in scope["path"]:
            return await _refuse(scope, send, "path")
        query = scope.get("query_string") or b""
        if b"%00" in query:
            field = _field_in_pairs(query.decode("latin-1"))
            if field:
                return await _refuse(scope, send, field)
        headers = dict(scope["headers"])
        if not (headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers):
            return await self.app(scope, receive, send)
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return await self.app(scope, _replay([message], receive), send)  # the client went away
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if any(spelling in body for spelling in NUL_SPELLINGS):
            field = field_in_body(body, headers.get(b"content-type", b"").decode("latin-1").lower())
            if field:
                return await _refuse(scope, send, field)
        await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive), send)


def _replay(messages: list[dict], receive):
    async def replayed():
        return messages.pop(0) if messages else await receive()

    return replayed


async def _refuse(scope, send, field: str) -> None:
    problem = field_problem(field, MESSAGE)
    response = JSONResponse(problem.body(unquote(scope.get("path", ""))), status_code=422, media_type=PROBLEM_JSON)
    await response(scope, None, send)
