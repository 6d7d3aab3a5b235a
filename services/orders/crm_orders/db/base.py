from sqlalchemy.orm import DeclarativeBase

from crm_shared.db import new_metadata


class OrdersBase(DeclarativeBase):
    """All tables the orders service owns. Platform tables come from crm_shared.db.PlatformBase."""

    metadata = new_metadata()
