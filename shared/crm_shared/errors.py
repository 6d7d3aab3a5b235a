"""RFC 9457 problem details for every error a service or the gateway returns.

A 4xx names the field and the reason; a 5xx never carries a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .domain import DomainError

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://qazaq-crm.example/problems/"
log = logging.getLogger("crm.errors")


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem-details body."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        type_: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_ or PROBLEM_BASE + title.lower().replace(" ", "-")
        self.errors = errors
        self.headers = headers
        self.extensions = extensions
        # Audit entries (crm_shared.audit.audit_entry) kept although the request's transaction is
        # rolled back: a refusal that must leave a trace. crm_shared.api's unit of work writes them
        # in a transaction of their own after the rollback.
        self.kept_records: list[Any] = []

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extensions)
        return body


def field_problem(field: str, message: str, status: int = 422) -> Problem:
    return Problem(
        status,
        "Validation failed",
        f"{field}: {message}",
        type_=PROBLEM_BASE + "validation",
        errors=[{"field": field, "message": message}],
    )


def not_found(what: str, ident: str, field: str | None = None) -> Problem:
    """404 for a record that is absent or hidden from the caller (the same answer for both);
    ``field`` names the request field that carried the id, when it came in a body."""
    errors = [{"field": field, "message": "does not exist or is not visible to you"}] if field else None
    return Problem(404, "Not found", f"{what} {ident} does not exist or is not visible to you", errors=errors)


STATUS_OF_KIND = {"invalid": 422, "not_found": 404, "conflict": 409, "forbidden": 403, "stale": 412}


def problem_of(error: DomainError) -> Problem:
    """The problem details that answer a domain rule's refusal (crm_shared.domain)."""
    status = STATUS_OF_KIND.get(error.kind, 422)
    errors = None
    if error.field:
        message = getattr(error, "message", None) or (
            "does not exist or is not visible to you" if error.kind == "not_found" else error.detail
        )
        errors = [{"field": error.field, "message": message}]
    if error.kind == "not_found":
        detail = f"{error.detail.removesuffix(' not found')} does not exist or is not visible to you"
    else:
        detail = error.detail
    type_ = PROBLEM_BASE + error.problem_type if error.problem_type else None
    return Problem(status, error.title, detail, type_=type_, errors=errors, **error.extensions)


def forbidden(detail: str) -> Problem:
    return Problem(403, "Forbidden", detail)


def conflict(detail: str, **extensions: Any) -> Problem:
    return Problem(409, "Conflict", detail, **extensions)


PROBLEM_DESCRIPTIONS = {
    400: "malformed header or cursor (problem names it)",
    401: "no or invalid caller identity",
    403: "the caller's role may not do this",
    404: "absent or not visible",
    409: "duplicate or conflicting state",
    412: "stale version",
    422: "invalid field (problem names it)",
    428: "neither If-Match nor version sent",
    429: "too many requests (Retry-After says when to try again)",
    503: "a service this answer needs did not answer (the problem names it; Retry-After)",
}


# The JSON Schema of Problem.body() (RFC 9457; extension members such as allowed_transitions are allowed).
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}


def openapi_problems(*statuses: int) -> dict[int, dict[str, Any]]:
    """OpenAPI ``responses=`` entries saying that these statuses answer with problem details."""
    return {
        status: {
            "model": None,
            "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
            "description": PROBLEM_DESCRIPTIONS[status],
        }
        for status in statuses
    }


# What a REST endpoint of a service documents by default.
OPENAPI_PROBLEMS = openapi_problems(401, 403, 404, 409, 412, 422)


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    return JSONResponse(
        problem.body(str(request.url.path) if request else None),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


def _field_name(loc: tuple | list) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form", "cookie")]
    # pydantic puts the union member tag in the location (e.g. body.individual.iin); keep it short
    return ".".join(parts) or ".".join(str(p) for p in loc)


def validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        if len(loc) > 1 and loc[0] == "body" and isinstance(loc[1], str) and loc[1] in ("individual", "business"):
            loc = [loc[0]] + loc[2:]
        message = err.get("msg", "invalid")
        discriminator = str((err.get("ctx") or {}).get("discriminator", "")).strip("'")
        if err.get("type") in ("union_tag_not_found", "union_tag_invalid") and discriminator:
            loc = loc + [discriminator]  # name the tag field (e.g. "kind"), not the whole body
        if err.get("type") == "extra_forbidden":
            message = "unknown field"
        errors.append({"field": _field_name(loc), "message": message, "type": err.get("type")})
    return errors


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem):
        return problem_response(exc, request)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError):
        return problem_response(problem_of(exc), request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = validation_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return problem_response(
            Problem(422, "Validation failed", detail, type_=PROBLEM_BASE + "validation", errors=errors),
            request,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        titles = {
            401: "Unauthorized",
            403: "Forbidden",
            404: "Not found",
            405: "Method not allowed",
            409: "Conflict",
            413: "Payload too large",
            415: "Unsupported media type",
            429: "Too many requests",
        }
        title = titles.get(exc.status_code, "Error")
        return problem_response(
            Problem(
                exc.status_code, title, str(exc.detail) if exc.detail else None, headers=getattr(exc, "headers", None)
            ),
            request,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            Problem(500, "Internal error", "an unexpected error occurred; it has been logged"), request
        )
