"""Errors the domain raises: plain Python, no web, database or RPC types.

A domain rule says *what* refused a request (a field that breaks a rule, a record that is not
there, a conflict with the current state, an action the caller may not take, a stale version);
the edges decide how that is answered: ``crm_shared.errors`` turns a DomainError into RFC 9457
problem details (the HTTP status follows the kind) and ``crm_shared.grpc`` into a gRPC status.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """``kind`` picks the answer at the edge: invalid, not_found, conflict, forbidden, stale,
    version_required. ``problem_type`` (a slug) names the problem type when a client should be
    able to tell this refusal from others of the same kind; ``extensions`` go into the answer."""

    kind: ClassVar[str] = "invalid"
    title: ClassVar[str] = "Validation failed"

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        title: str | None = None,
        problem_type: str | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        if title:
            self.title = title
        self.problem_type = problem_type
        self.extensions = extensions


class InvalidField(DomainError):
    """A value breaks a rule; the answer names the field (422 over HTTP)."""

    def __init__(self, field: str, message: str, **extensions: Any) -> None:
        super().__init__(f"{field}: {message}", field=field, problem_type="validation", **extensions)
        self.message = message


class RecordNotFound(DomainError):
    """Not there, or not visible to the caller: the two are answered alike (404)."""

    kind = "not_found"
    title = "Not found"

    def __init__(self, what: str, ident: str, field: str | None = None) -> None:
        super().__init__(f"{what} {ident} not found", field=field)
        self.what = what


class Conflict(DomainError):
    """The request contradicts the record's current state (409)."""

    kind = "conflict"
    title = "Conflict"


class NotAllowed(DomainError):
    """The caller's role may not do this at all (403)."""

    kind = "forbidden"
    title = "Forbidden"


class StaleVersion(DomainError):
    """The caller changed an older version than the current one (412)."""

    kind = "stale"
    title = "Precondition failed"
