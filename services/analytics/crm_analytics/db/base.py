from sqlalchemy.orm import DeclarativeBase

from crm_shared.db import new_metadata


class AnalyticsBase(DeclarativeBase):
    """All tables the analytics service owns. Platform tables come from crm_shared.db.PlatformBase."""

    metadata = new_metadata()
