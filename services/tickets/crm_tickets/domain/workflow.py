"""The ticket status workflow: explicit transitions, nothing else is allowed."""

from __future__ import annotations

from enum import StrEnum

from crm_shared.errors import Problem


class Status(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    PENDING = "pending"  # waiting on the customer or a third party: the SLA clock is paused
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"


TRANSITIONS: dict[Status, tuple[Status, ...]] = {
    Status.NEW: (Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED, Status.CANCELLED),
    Status.ACKNOWLEDGED: (Status.IN_PROGRESS, Status.PENDING, Status.RESOLVED, Status.CANCELLED),
    Status.IN_PROGRESS: (Status.PENDING, Status.RESOLVED, Status.CANCELLED),
    Status.PENDING: (Status.IN_PROGRESS, Status.RESOLVED, Status.CANCELLED),
    Status.RESOLVED: (Status.CLOSED, Status.IN_PROGRESS),  # back to in_progress = reopen (within the window)
    Status.CLOSED: (),
    Status.CANCELLED: (),
}
OPEN_STATUSES = (Status.NEW, Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.PENDING)
# Statuses whose SLA clock runs (pending pauses it; resolved/closed/cancelled stop it).
RUNNING_STATUSES = (Status.NEW, Status.ACKNOWLEDGED, Status.IN_PROGRESS)
# The first move out of "new" by a person is the first response.
RESPONDED_STATUSES = (Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.PENDING, Status.RESOLVED)


def allowed_next(current: str) -> list[str]:
    return [s.value for s in TRANSITIONS[Status(current)]]


def check_transition(current: str, target: str) -> Status:
    """The target status when ``current -> target`` is allowed, else a 409 naming the allowed ones."""
    try:
        to = Status(target)
    except ValueError:
        raise Problem(
            422,
            "Validation failed",
            f"status: unknown status {target!r}",
            type_="https://qazaq-crm.example/problems/validation",
            errors=[{"field": "status", "message": f"one of {', '.join(s.value for s in Status)}"}],
        ) from None
    allowed = allowed_next(current)
    if to.value not in allowed:
        raise Problem(
            409,
            "Illegal transition",
            f"a {current} ticket cannot become {to.value}; allowed: {', '.join(allowed) or 'none'}",
            current_status=current,
            allowed_transitions=allowed,
        )
    return to


def is_reopen(current: str, target: Status) -> bool:
    return current == Status.RESOLVED and target is Status.IN_PROGRESS
