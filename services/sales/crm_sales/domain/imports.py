"""Customer CSV import rules without I/O: the columns a file may have, and a row as the body of a
customer create (the same rules then check it as they check the API's)."""

from __future__ import annotations

import csv
import io
from typing import Any

COLUMNS = (
    "kind", "iin", "bin", "last_name", "first_name", "middle_name", "legal_name", "legal_form", "phone", "email",
    "language", "branch_code", "data_processing_consent", "marketing_consent", "city", "street", "building",
    "apartment", "postal_code",
)  # fmt: skip
ADDRESS_COLUMNS = ("city", "street", "building", "apartment", "postal_code")
TRUE = {"1", "true", "yes", "y", "да", "иә", "ия"}
FALSE = {"", "0", "false", "no", "n", "нет", "жоқ"}
MAX_ROWS = 100_000


class FileRuleError(ValueError):
    """A file that is not a customer CSV at all; the message says why."""


def read_rows(text: str) -> list[tuple[int, dict[str, str]]]:
    """(line number in the file, {column: value}) of each data row; the header names the columns
    (any case, any order, ``;`` or ``,`` between them)."""
    text = text.removeprefix("\ufeff")
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise FileRuleError("the file is empty; the first line names the columns") from None
    names = [name.strip().lower() for name in header]
    unknown = [name for name in names if name not in COLUMNS]
    if unknown:
        raise FileRuleError(f"unknown columns {', '.join(unknown)}; the columns are: {', '.join(COLUMNS)}")
    if "kind" not in names:
        raise FileRuleError("the column kind is missing (individual or business)")
    rows = []
    for values in reader:
        if not any(value.strip() for value in values):
            continue
        if len(rows) >= MAX_ROWS:
            raise FileRuleError(f"at most {MAX_ROWS} rows in one file")
        rows.append((reader.line_num, {name: value.strip() for name, value in zip(names, values)}))
    return rows


def flag(value: str) -> bool | str:
    """A yes/no cell as a boolean, or the text as it is (the create rules then name it)."""
    lowered = value.strip().lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    return value


def create_body(row: dict[str, str]) -> dict[str, Any]:
    """The body of a customer create for one row: empty cells are left out."""
    body: dict[str, Any] = {
        name: value for name, value in row.items() if value and name not in ADDRESS_COLUMNS and name in COLUMNS
    }
    for consent in ("data_processing_consent", "marketing_consent"):
        if consent in row:
            body[consent] = flag(row[consent])
    if any(row.get(name) for name in ADDRESS_COLUMNS):
        address = {"kind": "registration", **{name: row[name] for name in ADDRESS_COLUMNS if row.get(name)}}
        body["addresses"] = [address]
    return body
