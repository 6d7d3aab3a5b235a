"""SLA policies and the SLA clock: targets per priority and customer segment, due times on the
branch calendar (or round the clock for critical tickets), pauses while pending, and the
signals the scheduler raises (about to breach, breached, escalations)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .calendar import ROUND_THE_CLOCK, WORKING_CALENDAR

HOUR = 3600


@dataclass(frozen=True)
class SlaPolicy:
    name: str
    response_s: int
    resolution_s: int
    round_the_clock: bool

    @property
    def clock(self):
        return ROUND_THE_CLOCK if self.round_the_clock else WORKING_CALENDAR


# (priority, segment) -> policy. Business customers get tighter targets.
POLICIES: dict[tuple[str, str], SlaPolicy] = {
    ("critical", "individual"): SlaPolicy("critical-individual", HOUR // 2, 8 * HOUR, True),
    ("critical", "business"): SlaPolicy("critical-business", HOUR // 4, 4 * HOUR, True),
    ("high", "individual"): SlaPolicy("high-individual", 2 * HOUR, 9 * HOUR, False),
    ("high", "business"): SlaPolicy("high-business", 1 * HOUR, 6 * HOUR, False),
    ("medium", "individual"): SlaPolicy("medium-individual", 4 * HOUR, 18 * HOUR, False),
    ("medium", "business"): SlaPolicy("medium-business", 2 * HOUR, 9 * HOUR, False),
    ("low", "individual"): SlaPolicy("low-individual", 9 * HOUR, 45 * HOUR, False),
    ("low", "business"): SlaPolicy("low-business", 4 * HOUR, 27 * HOUR, False),
}
PRIORITIES = ("critical", "high", "medium", "low")
SEGMENTS = ("individual", "business")
# "About to breach" once this share of the target has gone by.
AT_RISK_SHARE = 0.8
# After the resolution target is breached (level 1: branch manager), the regional manager is
# told once this share of the resolution target has gone by again.
REGIONAL_ESCALATION_SHARE = 0.5


POLICIES_BY_NAME = {p.name: p for p in POLICIES.values()}


def policy_for(priority: str, segment: str) -> SlaPolicy:
    return POLICIES[(priority, segment if segment in SEGMENTS else "individual")]


def due_times(policy: SlaPolicy, start: datetime) -> tuple[datetime, datetime]:
    clock = policy.clock
    return clock.add(start, policy.response_s), clock.add(start, policy.resolution_s)


def warning_time(policy: SlaPolicy, due: datetime, target_s: int) -> datetime:
    """When a target counts as about to breach: (1 - AT_RISK_SHARE) of it before it is due."""
    return _subtract(policy, due, target_s * (1 - AT_RISK_SHARE))


def regional_escalation_time(policy: SlaPolicy, resolution_due: datetime) -> datetime:
    return policy.clock.add(resolution_due, policy.resolution_s * REGIONAL_ESCALATION_SHARE)


def resume(policy: SlaPolicy, due: datetime, paused_at: datetime, resumed_at: datetime) -> datetime:
    """A due time moved on by the working time the ticket spent pending."""
    remaining = policy.clock.between(paused_at, due)
    if remaining <= 0:  # already overdue when paused: overdue by the same working time now
        overdue = policy.clock.between(due, paused_at)
        return _subtract(policy, resumed_at, overdue)
    return policy.clock.add(resumed_at, remaining)


def _subtract(policy: SlaPolicy, moment: datetime, seconds: float) -> datetime:
    """The moment ``seconds`` of clock time before ``moment``."""
    return policy.clock.subtract(moment, seconds)


@dataclass(frozen=True)
class SlaView:
    """What the scheduler needs of a ticket."""

    policy: SlaPolicy
    response_due_at: datetime | None
    resolution_due_at: datetime
    responded: bool
    response_state: str
    resolution_state: str
    escalation_level: int


@dataclass(frozen=True)
class Signal:
    kind: str  # response_at_risk, response_breached, resolution_at_risk, resolution_breached, escalated_1, escalated_2
    target: str  # response | resolution
    due_at: datetime


def signals_due(view: SlaView, now: datetime) -> list[Signal]:
    """Every signal whose moment has come and that the ticket's state says was not raised yet.

    A scheduler that fell behind gets them all at once (a ticket long overdue is breached and
    escalated in one pass, never "at risk" after the fact)."""
    found: list[Signal] = []
    policy = view.policy
    if not view.responded and view.response_due_at is not None:
        due = view.response_due_at
        if now >= due:
            if view.response_state != "breached":
                found.append(Signal("response_breached", "response", due))
        elif now >= warning_time(policy, due, policy.response_s) and view.response_state == "ok":
            found.append(Signal("response_at_risk", "response", due))
    due = view.resolution_due_at
    if now >= due:
        if view.resolution_state != "breached":
            found.append(Signal("resolution_breached", "resolution", due))
    elif now >= warning_time(policy, due, policy.resolution_s) and view.resolution_state == "ok":
        found.append(Signal("resolution_at_risk", "resolution", due))
    breached = any(s.kind.endswith("breached") for s in found) or "breached" in (
        view.response_state,
        view.resolution_state,
    )
    if breached and view.escalation_level < 1:
        found.append(Signal("escalated_1", "branch_manager", due))
    if now >= regional_escalation_time(policy, view.resolution_due_at) and view.escalation_level < 2:
        found.append(Signal("escalated_2", "regional_manager", view.resolution_due_at))
    return found


def next_check(view: SlaView) -> datetime | None:
    """When the scheduler must look at the ticket again (None: nothing more can happen)."""
    policy = view.policy
    moments: list[datetime] = []
    if not view.responded and view.response_due_at is not None:
        if view.response_state == "ok":
            moments.append(warning_time(policy, view.response_due_at, policy.response_s))
        elif view.response_state == "at_risk":
            moments.append(view.response_due_at)
    if view.resolution_state == "ok":
        moments.append(warning_time(policy, view.resolution_due_at, policy.resolution_s))
    elif view.resolution_state == "at_risk":
        moments.append(view.resolution_due_at)
    if view.escalation_level < 2:
        moments.append(regional_escalation_time(policy, view.resolution_due_at))
    return min(moments) if moments else None
