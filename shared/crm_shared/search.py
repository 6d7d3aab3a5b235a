"""What a service's list does with a search box text (``q``): a record number (the console shows
the first eight characters of a record's id, "No. 3f2a9c1b"; any longer part of the id, with or
without "#" or "№", is one too) or words to find in the record's text columns, in any case."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, or_

from .errors import field_problem

MIN_NUMBER = 6  # hex characters: fewer would match too many records to be a number
MIN_TEXT = 2
_NUMBER = re.compile(rf"^[0-9a-f]{{{MIN_NUMBER},8}}(-[0-9a-f-]{{0,27}})?$")
_NUMBER_SIGNS = "#№ "


def record_number(text: str) -> str | None:
    """The start of a record id that ``text`` is, lower-cased, or None when it is no number."""
    candidate = text.strip().lstrip(_NUMBER_SIGNS).strip().lower()
    candidate = candidate.removeprefix("no.").strip()
    if _NUMBER.match(candidate) and any(ch.isdigit() for ch in candidate):
        return candidate
    return None


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_clause(
    q: str, id_column: ColumnElement, text_columns: Sequence[ColumnElement], *, field: str = "q"
) -> ColumnElement[bool]:
    """The WHERE clause of ``q``: the id starting with the number, or every word in one of the
    text columns (case-insensitive); a 422 naming ``field`` for a text too short to search."""
    number = record_number(q)
    if number is not None:
        return id_column.like(_escape_like(number) + "%", escape="\\")
    words = q.split()
    if len("".join(words)) < MIN_TEXT:
        raise field_problem(field, f"must have at least {MIN_TEXT} characters: a record number or words")
    return and_(
        *(or_(*(column.ilike(f"%{_escape_like(word)}%", escape="\\") for column in text_columns)) for word in words)
    )
