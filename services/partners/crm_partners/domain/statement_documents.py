"""A month's statement as CSV and as PDF (a small PDF 1.4 writer: Helvetica, one text line per
commission line, as many A4 pages as it takes). Amounts are printed from integer tiyn as
KZT with two decimals; no float ever holds them."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

COLUMNS = (
    "line_id",
    "accrued_at",
    "kind",
    "status",
    "order_id",
    "customer_id",
    "offering_id",
    "amount_tiyn",
    "amount_kzt",
)
LINES_PER_PAGE = 48


@dataclass(frozen=True)
class StatementRow:
    line_id: str
    accrued_at: str
    kind: str
    status: str
    order_id: str
    customer_id: str
    offering_id: str
    amount_tiyn: int


def kzt(tiyn: int) -> str:
    sign = "-" if tiyn < 0 else ""
    whole, part = divmod(abs(tiyn), 100)
    return f"{sign}{whole}.{part:02d}"


def statement_csv(rows: Sequence[StatementRow], totals: dict[str, int]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(
            (
                row.line_id,
                row.accrued_at,
                row.kind,
                row.status,
                row.order_id,
                row.customer_id,
                row.offering_id,
                row.amount_tiyn,
                kzt(row.amount_tiyn),
            )
        )
    for name, value in totals.items():
        if name.endswith("_tiyn"):
            writer.writerow((f"total:{name.removesuffix('_tiyn')}", "", "", "", "", "", "", value, kzt(value)))
    return out.getvalue()


def _escape(text: str) -> str:
    ascii_text = text.encode("ascii", "replace").decode("ascii")
    return ascii_text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def statement_pdf(title: str, rows: Sequence[StatementRow], totals: dict[str, int]) -> bytes:
    body = [
        f"{r.accrued_at[:10]}  {r.kind:<9} {r.status:<9} order {r.order_id or '-':<36} {kzt(r.amount_tiyn):>14} KZT"
        for r in rows
    ]
    body += ["", *(f"{n.removesuffix('_tiyn'):<10} {kzt(v):>14} KZT" for n, v in totals.items() if n.endswith("_tiyn"))]
    pages = [body[i : i + LINES_PER_PAGE] for i in range(0, max(len(body), 1), LINES_PER_PAGE)] or [[]]
    objects: list[bytes] = []
    page_ids = [3 + 2 * i for i in range(len(pages))]
    font_id = 3 + 2 * len(pages)
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{' '.join(f'{p} 0 R' for p in page_ids)}] /Count {len(pages)} >>".encode())
    for number, lines in enumerate(pages, start=1):
        text = [f"BT /F1 9 Tf 40 800 Td 12 TL ({_escape(title)} - page {number}/{len(pages)}) Tj T* T*"]
        text += [f"({_escape(line)}) Tj T*" for line in lines]
        stream = ("\n".join(text) + "\nET").encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 {font_id} 0 R >> >> "
            f"/Contents {page_ids[number - 1] + 1} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for index, obj in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % index + obj + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()
