"""The ticket status workflow: explicit transitions, nothing else is allowed."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from crm_shared.domain import Conflict, DomainError, InvalidField


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
# A finished ticket is kept as it is: no more changes, notes, attachments or assignments.
FINISHED_STATUSES = (Status.CLOSED, Status.CANCELLED)


class UnknownStatus(DomainError):
    """A status the workflow does not have: a 422 naming ``status`` and listing the real ones."""

    def __init__(self, target: str) -> None:
        super().__init__(f"status: unknown status {target!r}", field="status", problem_type="validation")
        self.message = f"one of {', '.join(s.value for s in Status)}"


class IllegalTransition(Conflict):
    """A move the workflow does not allow from the current status: a 409 naming the allowed ones."""

    def __init__(self, current: str, target: str, allowed: list[str]) -> None:
        super().__init__(
            f"a {current} ticket cannot become {target}; allowed: {', '.join(allowed) or 'none'}",
            title="Illegal transition",
            problem_type="illegal-transition",
            current_status=current,
            allowed_transitions=allowed,
        )


def allowed_next(current: str) -> list[str]:
    return [s.value for s in TRANSITIONS[Status(current)]]


def check_transition(current: str, target: str) -> Status:
    """The target status when ``current -> target`` is allowed, else the refusal."""
    try:
        to = Status(target)
    except ValueError:
        raise UnknownStatus(target) from None
    allowed = allowed_next(current)
    if to.value not in allowed:
        raise IllegalTransition(current, to.value, allowed)
    return to


def check_reason(target: Status, reason: str | None) -> None:
    """A ticket waits (pending) for someone: the reason says for whom."""
    if target is Status.PENDING and not reason:
        raise InvalidField("reason", "say what the ticket is waiting for (customer or third party)")


def check_reopen_window(resolved_at: datetime | None, now: datetime, window: timedelta) -> None:
    """A resolved ticket is reopened within ``window`` of its resolution; later, a new ticket is opened."""
    if resolved_at is not None and now - resolved_at > window:
        raise Conflict(
            f"the reopen window of {window.days} days has passed; open a new ticket", allowed_transitions=["closed"]
        )


def check_not_finished(status: str, refusal: str) -> None:
    """A closed or cancelled ticket is kept as it is; ``refusal`` says what it refuses
    ("takes no more notes")."""
    if status in FINISHED_STATUSES:
        raise Conflict(f"a {status} ticket {refusal}", current_status=status)


RATABLE_STATUSES = (Status.RESOLVED, Status.CLOSED)
RATING_SCORES = range(1, 6)


def check_ratable(status: str, already_rated: bool) -> None:
    """A customer rates a ticket once, after it was resolved."""
    if status not in RATABLE_STATUSES:
        raise Conflict(f"a {status} ticket is rated once it is resolved", current_status=status)
    if already_rated:
        raise Conflict("this ticket was rated already; a rating is given once")


def is_reopen(current: str, target: Status) -> bool:
    return current == Status.RESOLVED and target is Status.IN_PROGRESS
