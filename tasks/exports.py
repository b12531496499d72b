"""Streamed downloads in CSV, JSONL and JSON: rows are written as they are read, never held all at once."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.http import StreamingHttpResponse

from fairlabel.errors import ServiceError

FORMATS = {"json": "application/json", "jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """A cell a spreadsheet would run as a formula gets a leading apostrophe (OWASP CSV injection advice)."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _csv_lines(rows: Iterable[dict[str, Any]], columns: list[str]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for count, row in enumerate(rows, start=1):
        writer.writerow(["" if row[c] is None else spreadsheet_safe(row[c]) for c in columns])
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _jsonl_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row, ensure_ascii=False) + "\n"


def _json_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    yield '{"results":['
    first = True
    for row in rows:
        yield ("" if first else ",") + json.dumps(row, ensure_ascii=False)
        first = False
    yield "]}"


def parse_format(value: str | None) -> str:
    fmt = (value or "json").lower()
    if fmt not in FORMATS:
        raise ServiceError(
            code="invalid_format",
            message="format must be json, csv or jsonl.",
            details={"allowed": list(FORMATS)},
        )
    return fmt


def stream_rows(
    *, rows: Iterable[dict[str, Any]], columns: list[str], fmt: str, filename: str
) -> StreamingHttpResponse:
    if fmt == "csv":
        body: Iterator[str] = _csv_lines(rows, columns)
    elif fmt == "jsonl":
        body = _jsonl_lines(rows)
    else:
        body = _json_lines(rows)
    response = StreamingHttpResponse(body, content_type=FORMATS[fmt])
    if fmt != "json":
        response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response
