from sqlalchemy.orm import DeclarativeBase

from crm_shared.db import new_metadata


class PartnersBase(DeclarativeBase):
    """All tables the partners service owns. Platform tables come from crm_shared.db.PlatformBase."""

    metadata = new_metadata()
