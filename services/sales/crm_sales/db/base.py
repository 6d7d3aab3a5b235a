from sqlalchemy.orm import DeclarativeBase

from crm_shared.db import new_metadata


class SalesBase(DeclarativeBase):
    """All tables the sales service owns. Platform tables come from crm_shared.db.PlatformBase."""

    metadata = new_metadata()
