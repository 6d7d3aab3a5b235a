"""Commission arithmetic: integer tiyn only (a percentage is a Decimal, its result rounded down
to a whole tiyn), the lines an event earns, clawback eligibility and statement totals."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from typing import Any


class LineKind(StrEnum):
    ONE_OFF = "one_off"
    RECURRING = "recurring"
    CLAWBACK = "clawback"


class LineStatus(StrEnum):
    ACCRUED = "accrued"  # earned by an order event, not yet paid by the customer
    CONFIRMED = "confirmed"  # the customer paid (billing topic): the partner is owed it


@dataclass(frozen=True)
class EarnedLine:
    kind: LineKind
    amount_tiyn: int
    source_key: str
    offering_id: str | None = None


def period_of(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def one_off_amount(plan: dict[str, Any], offering_id: str, activations_this_month: int) -> int:
    """Per activated offering: the offering's own amount if the plan names one, else the highest
    tier the month's volume (activations before this one, plus one) reaches, else the base."""
    per_offering = plan.get("per_offering_tiyn") or {}
    if offering_id in per_offering:
        return int(per_offering[offering_id])
    amount = int(plan.get("one_off_tiyn", 0))
    for tier in plan.get("tiers") or []:
        if activations_this_month + 1 >= int(tier["min_activations"]):
            amount = int(tier["one_off_tiyn"])
    return amount


def activated_units(order: dict[str, Any]) -> int:
    """How many offerings a completed order activated (completed 'add' items, by quantity)."""
    return sum(
        int(item.get("quantity") or 1)
        for item in order.get("items") or []
        if item.get("action") == "add" and item.get("state") == "completed"
    )


def order_lines(plan: dict[str, Any], order: dict[str, Any], activations_this_month: int) -> list[EarnedLine]:
    """The one-off lines of a completed order: one per completed 'add' item and unit of quantity."""
    lines: list[EarnedLine] = []
    count = activations_this_month
    for item in order.get("items") or []:
        if item.get("action") != "add" or item.get("state") != "completed":
            continue
        for unit in range(int(item.get("quantity") or 1)):
            amount = one_off_amount(plan, item["offering_id"], count)
            count += 1
            if amount:
                key = f"order:{order['id']}:item:{item['id']}:{unit}"
                lines.append(EarnedLine(LineKind.ONE_OFF, amount, key, item["offering_id"]))
    return lines


def recurring_amount(
    plan: dict[str, Any], paid_tiyn: int, first_activation_at: datetime | None, paid_at: datetime
) -> int:
    """recurring_percent of a payment made within the first recurring_months after the customer's
    first activation (30-day months), rounded down to a whole tiyn; 0 outside that window."""
    months = int(plan.get("recurring_months", 0))
    if first_activation_at is None or months <= 0 or paid_tiyn <= 0:
        return 0
    if paid_at > first_activation_at + timedelta(days=30 * months):
        return 0
    share = Decimal(paid_tiyn) * Decimal(str(plan.get("recurring_percent", "0"))) / Decimal(100)
    return int(share.to_integral_value(rounding=ROUND_DOWN))


def within_clawback(plan: dict[str, Any], activated_at: datetime, terminated_at: datetime) -> bool:
    days = int(plan.get("clawback_days", 0))
    return days > 0 and terminated_at - activated_at <= timedelta(days=days)


@dataclass(frozen=True)
class Totals:
    accrued_tiyn: int
    confirmed_tiyn: int
    clawback_tiyn: int
    total_tiyn: int
    lines: int


def totals(lines: Iterable[tuple[str, str, int]]) -> Totals:
    """Statement totals from (kind, status, amount_tiyn) of every line: the total is their sum."""
    accrued = confirmed = clawback = total = count = 0
    for kind, status, amount in lines:
        count += 1
        total += amount
        if kind == LineKind.CLAWBACK:
            clawback += amount
        elif status == LineStatus.CONFIRMED:
            confirmed += amount
        else:
            accrued += amount
    return Totals(accrued, confirmed, clawback, total, count)
