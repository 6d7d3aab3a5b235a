"""The order lifecycle as an explicit state machine, and how item fulfilment decides the outcome.

    draft ──► acknowledged ──► in_progress ──► completed | failed | partial
                 │   ▲             │
                 ▼   │             ▼
                  held ◄───────────┘          (any open state) ──► cancelled (with a reason)

completed, failed and partial are reached when every item has an outcome (fulfilment by OSS):
all completed → completed, all failed → failed, a mix → partial.
"""

from __future__ import annotations

from enum import StrEnum


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


class IllegalTransition(Exception):
    def __init__(self, what: str, current: str, requested: str, allowed: tuple[str, ...]) -> None:
        self.current, self.requested, self.allowed = current, requested, list(allowed)
        allowed_text = ", ".join(allowed) if allowed else "none (it is final)"
        super().__init__(f"{what} in state {current} cannot move to {requested}; allowed: {allowed_text}")


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
