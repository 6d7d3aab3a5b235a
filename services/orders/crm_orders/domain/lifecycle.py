"""The order lifecycle as an explicit state machine, and how item fulfilment decides the outcome.

    draft ──► acknowledged ──► in_progress ──► completed | failed | partial
                 │   ▲             │
                 ▼   │             ▼
                  held ◄───────────┘          (any open state) ──► cancelled (with a reason)

completed, failed and partial are reached when every item has an outcome (fulfilment by OSS):
all completed → completed, all failed → failed, a mix → partial.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from crm_shared.domain import Conflict, InvalidField


class OrderState(StrEnum):
    DRAFT = "draft"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    HELD = "held"
    COMPLETED = "completed"
    FAILED = "failed"
    PARTIAL = "partial"
    CANCELLED = "cancelled"


class ItemState(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"


class ItemAction(StrEnum):
    ADD = "add"
    MODIFY = "modify"
    DELETE = "delete"


ALLOWED_TRANSITIONS: dict[OrderState, tuple[OrderState, ...]] = {
    OrderState.DRAFT: (OrderState.ACKNOWLEDGED, OrderState.CANCELLED),
    OrderState.ACKNOWLEDGED: (OrderState.IN_PROGRESS, OrderState.HELD, OrderState.CANCELLED),
    OrderState.IN_PROGRESS: (
        OrderState.HELD,
        OrderState.CANCELLED,
        OrderState.COMPLETED,
        OrderState.FAILED,
        OrderState.PARTIAL,
    ),
    OrderState.HELD: (OrderState.ACKNOWLEDGED, OrderState.IN_PROGRESS, OrderState.CANCELLED),
    OrderState.COMPLETED: (),
    OrderState.FAILED: (),
    OrderState.PARTIAL: (),
    OrderState.CANCELLED: (),
}
# Outcomes come from the items' fulfilment, never from a request to set them.
OUTCOME_STATES = (OrderState.COMPLETED, OrderState.FAILED, OrderState.PARTIAL)
FINAL_STATES = (*OUTCOME_STATES, OrderState.CANCELLED)
# States a client may ask for (PATCH state); the outcomes are set by fulfilment.
REQUESTABLE_STATES = (OrderState.ACKNOWLEDGED, OrderState.IN_PROGRESS, OrderState.HELD, OrderState.CANCELLED)
ITEM_FINAL_STATES = (ItemState.COMPLETED, ItemState.FAILED)
ITEM_TRANSITIONS: dict[ItemState, tuple[ItemState, ...]] = {
    ItemState.ACKNOWLEDGED: (ItemState.IN_PROGRESS, ItemState.COMPLETED, ItemState.FAILED),
    ItemState.IN_PROGRESS: (ItemState.COMPLETED, ItemState.FAILED),
    ItemState.COMPLETED: (),
    ItemState.FAILED: (),
}


class IllegalTransition(Conflict):
    """A move the state machine does not allow: a 409 naming the current, the requested and the
    allowed states."""

    def __init__(self, what: str, current: str, requested: str, allowed: Sequence[str]) -> None:
        allowed_text = ", ".join(allowed) if allowed else "none (it is final)"
        super().__init__(
            f"{what} in state {current} cannot move to {requested}; allowed: {allowed_text}",
            current_state=current,
            requested_state=requested,
            allowed_transitions=list(allowed),
        )
        self.current, self.requested, self.allowed = current, requested, list(allowed)


def check_transition(current: str, requested: str) -> OrderState:
    current_state, target = OrderState(current), OrderState(requested)
    allowed = ALLOWED_TRANSITIONS[current_state]
    if target not in allowed:
        raise IllegalTransition("the order", current_state, target, tuple(allowed))
    return target


def requestable_from(current: str) -> tuple[str, ...]:
    """What a client may ask for from ``current`` (outcomes excluded)."""
    return tuple(s for s in ALLOWED_TRANSITIONS[OrderState(current)] if s in REQUESTABLE_STATES)


def check_item_transition(current: str, requested: str) -> ItemState:
    current_state, target = ItemState(current), ItemState(requested)
    allowed = ITEM_TRANSITIONS[current_state]
    if target not in allowed:
        raise IllegalTransition("the item", current_state, target, tuple(allowed))
    return target


def outcome_of(item_states: list[str]) -> OrderState | None:
    """The order's outcome once every item has one, else None."""
    if not item_states or any(ItemState(s) not in ITEM_FINAL_STATES for s in item_states):
        return None
    completed = sum(1 for s in item_states if s == ItemState.COMPLETED)
    if completed == len(item_states):
        return OrderState.COMPLETED
    if completed == 0:
        return OrderState.FAILED
    return OrderState.PARTIAL


def check_request(current: str, requested: str, *, reason: str | None, item_states: Sequence[str]) -> OrderState:
    """The state a client's request moves the order to (acknowledge a draft, start, hold, resume,
    cancel), or the refusal: outcomes come from fulfilment, a cancellation needs a reason and
    comes before any item is completed, and an order without items is never submitted."""
    allowed = list(requestable_from(current))
    if requested not in allowed:
        refusal = IllegalTransition("the order", current, requested, allowed)
        if requested in OUTCOME_STATES and current not in FINAL_STATES:
            raise Conflict(
                f"{refusal}; {requested} is reached when every item's fulfilment is reported",
                current_state=current,
                requested_state=requested,
                allowed_transitions=allowed,
            )
        raise refusal
    target = check_transition(current, requested)
    if target == OrderState.CANCELLED and not (reason or "").strip():
        raise InvalidField("reason", "a cancelled order needs a reason")
    if target == OrderState.ACKNOWLEDGED and not item_states:
        raise InvalidField("items", "an order without items cannot be submitted")
    if target == OrderState.CANCELLED and ItemState.COMPLETED in item_states:
        raise Conflict(
            "items of this order are already completed; it cannot be cancelled any more",
            current_state=current,
            allowed_transitions=[s for s in allowed if s != OrderState.CANCELLED],
        )
    return target


def check_fulfilment_reportable(current: str) -> None:
    """Fulfilment is reported while the order is acknowledged or in progress."""
    if current not in (OrderState.ACKNOWLEDGED, OrderState.IN_PROGRESS):
        raise Conflict(
            f"fulfilment is reported for acknowledged or in-progress orders; this order is {current}",
            current_state=current,
        )


def check_draft(current: str) -> None:
    """Items are added to a draft order only (one a won opportunity started)."""
    if current != OrderState.DRAFT:
        raise Conflict(f"items are added to draft orders only; this order is {current}", state=current)
