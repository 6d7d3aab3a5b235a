"""INSERT ... ON CONFLICT DO NOTHING on PostgreSQL and on SQLite (the embedded default), for any
service: a row written once whichever process (replica, retry) writes it first."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_if_absent(session: AsyncSession, model, key: str | tuple[str, ...], returning, **values):
    """The statement inserting ``values`` unless a row with the same ``key`` exists; returns
    ``returning`` of the inserted row (none when it was there already)."""
    dialect = sqlite if session.bind is not None and session.bind.dialect.name == "sqlite" else postgresql
    return (
        dialect.insert(model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[key] if isinstance(key, str) else list(key))
        .returning(returning)
    )


async def insert_many_if_absent(
    session: AsyncSession, model, key: str | tuple[str, ...], returning: str, rows: list[dict]
) -> list:
    """Inserts each of ``rows`` unless a row with its ``key`` exists, many rows per statement (one
    compiled statement, the rows as its parameter sets); returns column ``returning`` of the rows
    inserted."""
    if not rows:
        return []
    table = model.__table__
    dialect = sqlite if session.bind is not None and session.bind.dialect.name == "sqlite" else postgresql
    statement = (
        dialect.insert(table)
        .on_conflict_do_nothing(index_elements=[key] if isinstance(key, str) else list(key))
        .returning(table.c[returning])
    )
    return list((await session.execute(statement, rows)).scalars())
