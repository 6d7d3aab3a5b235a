"""The sales pipeline rules: lead statuses, opportunity stages, activities, reassignment scope.

Pure logic (no I/O): the API layer loads records and asks these functions what is allowed. A
refusal is raised as a problem (crm_shared.errors.Problem) naming the field, so it reaches the
client as is: 409 for a transition that is not allowed (with the allowed ones), 422 for a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from crm_shared.auth import Principal, Role, Scope
from crm_shared.errors import PROBLEM_BASE, Problem


class LeadSource(StrEnum):
    WEB = "web"
    CALL_CENTER = "call_center"
    BRANCH_WALK_IN = "branch_walk_in"
    PARTNER = "partner"
    CAMPAIGN = "campaign"


class LeadStatus(StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    QUALIFIED = "qualified"
    CONVERTED = "converted"
    DISQUALIFIED = "disqualified"


class ProductLine(StrEnum):
    INTERNET = "internet"
    TV = "tv"
    MOBILE = "mobile"
    FIXED_LINE = "fixed_line"
    BUNDLE = "bundle"


class Stage(StrEnum):
    PROSPECTING = "prospecting"
    QUALIFICATION = "qualification"
    PROPOSAL = "proposal"
    NEGOTIATION = "negotiation"
    CLOSED_WON = "closed_won"
    CLOSED_LOST = "closed_lost"


class ActivityKind(StrEnum):
    CALL = "call"
    MEETING = "meeting"
    TASK = "task"
    NOTE = "note"


class RelatedType(StrEnum):
    CUSTOMER = "customer"
    LEAD = "lead"
    OPPORTUNITY = "opportunity"


# A lead becomes "converted" only through the conversion operation, never by a plain update.
LEAD_TRANSITIONS: dict[LeadStatus, tuple[LeadStatus, ...]] = {
    LeadStatus.NEW: (LeadStatus.CONTACTED, LeadStatus.DISQUALIFIED),
    LeadStatus.CONTACTED: (LeadStatus.QUALIFIED, LeadStatus.DISQUALIFIED),
    LeadStatus.QUALIFIED: (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED),
    LeadStatus.CONVERTED: (),
    LeadStatus.DISQUALIFIED: (),
}
OPEN_LEAD_STATUSES = (LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.QUALIFIED)

# Forward one step at a time, back one step, or lost from anywhere open; closed is final.
STAGE_TRANSITIONS: dict[Stage, tuple[Stage, ...]] = {
    Stage.PROSPECTING: (Stage.QUALIFICATION, Stage.CLOSED_LOST),
    Stage.QUALIFICATION: (Stage.PROSPECTING, Stage.PROPOSAL, Stage.CLOSED_LOST),
    Stage.PROPOSAL: (Stage.QUALIFICATION, Stage.NEGOTIATION, Stage.CLOSED_LOST),
    Stage.NEGOTIATION: (Stage.PROPOSAL, Stage.CLOSED_WON, Stage.CLOSED_LOST),
    Stage.CLOSED_WON: (),
    Stage.CLOSED_LOST: (),
}
OPEN_STAGES = (Stage.PROSPECTING, Stage.QUALIFICATION, Stage.PROPOSAL, Stage.NEGOTIATION)
CLOSED_STAGES = (Stage.CLOSED_WON, Stage.CLOSED_LOST)

DEFAULT_PROBABILITY: dict[Stage, int] = {
    Stage.PROSPECTING: 10,
    Stage.QUALIFICATION: 25,
    Stage.PROPOSAL: 50,
    Stage.NEGOTIATION: 75,
    Stage.CLOSED_WON: 100,
    Stage.CLOSED_LOST: 0,
}


class TransitionNotAllowed(Problem):
    """409: the requested status/stage cannot follow the current one; ``allowed`` says what can."""

    def __init__(self, field: str, current: str, requested: str, allowed: tuple[str, ...]) -> None:
        allowed_values = [str(a) for a in allowed]
        allowed_text = ", ".join(allowed_values) if allowed_values else "none (it is final)"
        message = f"cannot change from {current} to {requested}; allowed from {current}: {allowed_text}"
        super().__init__(
            409,
            "Conflict",
            f"{field}: {message}",
            type_=PROBLEM_BASE + "transition-not-allowed",
            errors=[{"field": field, "message": message}],
            current=str(current),
            allowed=allowed_values,
        )
        self.field = field
        self.allowed = allowed_values


class RuleViolation(Problem):
    """422: a field value the pipeline rules refuse; the problem names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(
            422,
            "Validation failed",
            f"{field}: {message}",
            type_=PROBLEM_BASE + "validation",
            errors=[{"field": field, "message": message}],
        )
        self.field = field
        self.message = message


def check_lead_transition(current: LeadStatus, requested: LeadStatus) -> None:
    if requested == current:
        return
    allowed = LEAD_TRANSITIONS[current]
    if requested not in allowed:
        raise TransitionNotAllowed("status", current, requested, allowed)


def check_lead_update(current: LeadStatus, requested: LeadStatus, disqualify_reason: str | None) -> None:
    """A plain update may move a lead along its statuses, but never to converted (use the conversion)."""
    check_lead_transition(current, requested)
    if requested == LeadStatus.CONVERTED and current != LeadStatus.CONVERTED:
        raise TransitionNotAllowed(
            "status", current, requested, tuple(s for s in LEAD_TRANSITIONS[current] if s != LeadStatus.CONVERTED)
        )
    if (
        requested == LeadStatus.DISQUALIFIED
        and current != LeadStatus.DISQUALIFIED
        and not (disqualify_reason or "").strip()
    ):
        raise RuleViolation("disqualify_reason", "required when a lead is disqualified")


def check_lead_convertible(current: LeadStatus) -> None:
    check_lead_transition(current, LeadStatus.CONVERTED)
    if current == LeadStatus.CONVERTED:
        raise TransitionNotAllowed("status", current, LeadStatus.CONVERTED, ())


def check_stage_transition(current: Stage, requested: Stage) -> None:
    if requested == current:
        return
    allowed = STAGE_TRANSITIONS[current]
    if requested not in allowed:
        raise TransitionNotAllowed("stage", current, requested, allowed)


def probability_for(stage: Stage, requested: int | None) -> int:
    """Closed stages fix the probability; open stages take the requested one or the stage default."""
    if stage in CLOSED_STAGES:
        expected = DEFAULT_PROBABILITY[stage]
        if requested is not None and requested != expected:
            raise RuleViolation("probability", f"must be {expected} for a {stage} opportunity")
        return expected
    return DEFAULT_PROBABILITY[stage] if requested is None else requested


def check_close_reason(stage: Stage, close_reason: str | None) -> None:
    if stage == Stage.CLOSED_LOST and not (close_reason or "").strip():
        raise RuleViolation("close_reason", "required when an opportunity is lost")


def is_open_stage(stage: str) -> bool:
    return stage in OPEN_STAGES


# --- ownership and reassignment ------------------------------------------------------------


@dataclass(frozen=True)
class StaffView:
    """What the reassignment rules need to know about a staff member (from the staff directory)."""

    id: str
    role: str
    region_code: str | None
    branch_code: str | None
    active: bool


OWNER_ROLES = {Role.BRANCH_AGENT.value, Role.BRANCH_MANAGER.value, Role.REGIONAL_MANAGER.value, Role.ADMIN.value}


def staff_in_scope(principal: Principal, staff: StaffView) -> bool:
    """Whether ``staff``'s branch/region lies inside the caller's scope."""
    scope = principal.scope
    if scope is Scope.NATIONAL:
        return True
    if scope is Scope.REGION:
        return principal.region is not None and staff.region_code == principal.region
    if scope is Scope.BRANCH:
        return principal.branch is not None and staff.branch_code == principal.branch
    return False


def check_new_owner(principal: Principal, staff: StaffView | None, field: str = "to_owner_id") -> None:
    """The new owner must be an active staff member who can own records, inside the caller's scope."""
    if staff is None:
        raise RuleViolation(field, "not a known staff member")
    if not staff.active:
        raise RuleViolation(field, "this staff member is deactivated")
    if staff.role not in OWNER_ROLES:
        raise RuleViolation(field, f"a {staff.role} cannot own sales records")
    if not staff.branch_code or not staff.region_code:
        raise RuleViolation(field, "this staff member has no branch; records need one")
    if not staff_in_scope(principal, staff):
        raise RuleViolation(field, "this staff member works outside your branch/region")
