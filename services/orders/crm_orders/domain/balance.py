"""A customer's balance status from what billing reported: paid, due or overdue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class BalanceStatus(StrEnum):
    NO_INVOICES = "no_invoices"
    PAID = "paid"  # every invoice paid in full
    DUE = "due"  # something open, nothing past its due date
    OVERDUE = "overdue"  # an invoice past its due date is not paid in full


@dataclass(frozen=True)
class InvoiceFigures:
    amount_tiyn: int
    paid_tiyn: int
    due_on: date


def balance_status(invoices: list[InvoiceFigures], today: date) -> BalanceStatus:
    if not invoices:
        return BalanceStatus.NO_INVOICES
    open_invoices = [i for i in invoices if i.paid_tiyn < i.amount_tiyn]
    if not open_invoices:
        return BalanceStatus.PAID
    if any(i.due_on < today for i in open_invoices):
        return BalanceStatus.OVERDUE
    return BalanceStatus.DUE
