"""The analytics service's own request dependencies: its event store."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from crm_shared.api import client

from ..db.store import EventStore

Store = Annotated[EventStore, Depends(client(EventStore))]
