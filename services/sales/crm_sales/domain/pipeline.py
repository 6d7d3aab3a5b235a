"""The sales pipeline rules: lead statuses, opportunity stages and their transitions, probabilities.

Pure logic (no I/O): the use cases load records and ask these functions what is allowed. A
refusal is a crm_shared.domain error naming the field; the edge answers it: 409 for a transition
that is not allowed (with the allowed ones), 422 for a value.
"""

from __future__ import annotations

from enum import StrEnum

from crm_shared.domain import Conflict, InvalidField

from .customers import collapse_spaces


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
    CALL = "call"  # only the calls logged before tickets owned contacts (docs/interactions.md)
    MEETING = "meeting"
    TASK = "task"
    NOTE = "note"


# Contacts with customers (calls, visits, messages) are the tickets service's interactions: a new
# activity is planned work or a note, never a call (docs/interactions.md).
CALLS_ARE_INTERACTIONS = (
    "a call is logged as an interaction in the tickets service (POST /api/v1/tickets/interactions); "
    "activities are meetings, tasks and notes"
)


def check_new_activity_kind(kind: str) -> None:
    if kind == ActivityKind.CALL:
        raise InvalidField("kind", CALLS_ARE_INTERACTIONS)


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


class TransitionNotAllowed(Conflict):
    """The requested status/stage cannot follow the current one; ``allowed`` says what can."""

    def __init__(self, field: str, current: str, requested: str, allowed: tuple[str, ...]) -> None:
        allowed_values = [str(a) for a in allowed]
        allowed_text = ", ".join(allowed_values) if allowed_values else "none (it is final)"
        message = f"cannot change from {current} to {requested}; allowed from {current}: {allowed_text}"
        super().__init__(
            f"{field}: {message}",
            field=field,
            problem_type="transition-not-allowed",
            current=str(current),
            allowed=allowed_values,
        )
        self.message = message
        self.allowed = allowed_values


def clean_text(value: str | None) -> str | None:
    """Single spaces, trimmed; None for None or blank."""
    return (collapse_spaces(value) or None) if value is not None else None


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
        raise InvalidField("disqualify_reason", "required when a lead is disqualified")


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
            raise InvalidField("probability", f"must be {expected} for a {stage} opportunity")
        return expected
    return DEFAULT_PROBABILITY[stage] if requested is None else requested


def check_close_reason(stage: Stage, close_reason: str | None) -> None:
    if stage == Stage.CLOSED_LOST and not (close_reason or "").strip():
        raise InvalidField("close_reason", "required when an opportunity is lost")


def is_open_stage(stage: str) -> bool:
    return stage in OPEN_STAGES
