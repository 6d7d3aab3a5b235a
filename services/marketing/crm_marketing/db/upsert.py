"""INSERT ... ON CONFLICT DO NOTHING in the dialect of the session (PostgreSQL in production,
SQLite in the embedded dev profile)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_or_skip(session: AsyncSession, model: Any):
    dialect = session.bind.dialect.name if session.bind is not None else "postgresql"
    insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
    return _Insert(insert(model))


class _Insert:
    def __init__(self, statement) -> None:
        self.statement = statement

    def values(self, *args, **kwargs):
        return self.statement.values(*args, **kwargs).on_conflict_do_nothing()

    def many(self):
        """For executemany (``session.execute(statement, rows)``): compiled once and sent in
        batches, where a VALUES list of thousands of rows is compiled anew every time."""
        return self.statement.on_conflict_do_nothing()
