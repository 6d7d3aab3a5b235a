"""A list as a CSV file, streamed: the rows are written as the pages of the list come, so an export
of a hundred thousand records never sits in memory whole. UTF-8 with a byte-order mark (spreadsheet
programs then read Kazakh and Russian letters right), one header line, RFC 4180 quoting; times as
``crm_shared.timefmt.iso``. A cell that a spreadsheet would run as a formula (starting with =, +, -,
@) is written with a leading apostrophe."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from fastapi.responses import StreamingResponse

from .timefmt import iso

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
BOM = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso(value)
    text = str(value)
    # a phone (+7...) stays as it is: a spreadsheet reads it as text with the quote anyway
    if text.startswith(_FORMULA_START) and not text[1:].replace(" ", "").isdigit():
        return "'" + text
    return text


def csv_lines(columns: Sequence[str], rows: Iterable[Mapping[str, Any]], *, header: bool) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return buffer.getvalue()


def csv_response(
    columns: Sequence[str], pages: AsyncIterator[Sequence[Mapping[str, Any]]], *, filename: str
) -> StreamingResponse:
    """``pages``: the list's rows, a page at a time, as mappings from column name to value."""

    async def body() -> AsyncIterator[bytes]:
        yield (BOM + csv_lines(columns, (), header=True)).encode()
        async for page in pages:
            if page:
                yield csv_lines(columns, page, header=False).encode()

    return StreamingResponse(
        body(),
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


PageFetcher = Callable[[str | None], Awaitable[tuple[Sequence[Mapping[str, Any]], str | None]]]


async def csv_export(columns: Sequence[str], fetch_page: PageFetcher, *, filename: str) -> StreamingResponse:
    """A list's export: ``fetch_page(cursor)`` gives (rows, next cursor or None), opening its own
    session each time (the answer outlives the request's). The first page is read before the
    answer starts, so that a refusal (403, 422, 429) is still a problem, not a broken file."""
    first, cursor = await fetch_page(None)

    async def pages() -> AsyncIterator[Sequence[Mapping[str, Any]]]:
        nonlocal cursor
        yield first
        while cursor is not None:
            rows, cursor = await fetch_page(cursor)
            yield rows

    return csv_response(columns, pages(), filename=filename)
