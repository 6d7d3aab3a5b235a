"""The tickets routers' own request dependencies (the shared ones are in crm_shared.api)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends

from crm_shared.api import SalesCustomersClient, Settings

# The client of crm.sales.v1.CustomerService (one of the app's workers, crm_tickets.main).
Customers = SalesCustomersClient


def _reopen_window(settings: Settings) -> timedelta:
    return timedelta(days=settings.reopen_window_days)


# How long after its resolution a ticket may be reopened (TicketsSettings.reopen_window_days).
ReopenWindow = Annotated[timedelta, Depends(_reopen_window)]
