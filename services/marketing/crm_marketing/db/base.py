from sqlalchemy.orm import DeclarativeBase

from crm_shared.db import new_metadata


class MarketingBase(DeclarativeBase):
    """All tables the marketing service owns. Platform tables come from crm_shared.db.PlatformBase."""

    metadata = new_metadata()
