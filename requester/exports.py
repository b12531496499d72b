"""Streamed downloads in CSV, JSONL and JSON: rows are written as they are read, never held all at once.

The rows are read inside a transaction, so on PostgreSQL `.iterator()` uses a plain server-side cursor that
starts returning rows at once (outside one, Django declares it WITH HOLD, which makes PostgreSQL materialise
the whole result before the first row). Output goes out in chunks of about 64 KB: one write per row would
cost a system call per row.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.db import transaction
from django.http import StreamingHttpResponse

from fairlabel.errors import ServiceError
from fairlabel.spreadsheets import spreadsheet_row

FORMATS = {"json": "application/json", "jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
CHUNK_CHARS = 64 * 1024


def _cell(value: Any) -> Any:
    """Lists and objects (answers of multi_choice and boxes) as JSON text in a CSV cell."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else value


def _csv_lines(rows: Iterable[dict[str, Any]], columns: list[str]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(spreadsheet_row(_cell(row[column]) for column in columns))
        if buffer.tell() >= CHUNK_CHARS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _chunked(pieces: Iterable[str]) -> Iterator[str]:
    parts: list[str] = []
    size = 0
    for piece in pieces:
        parts.append(piece)
        size += len(piece)
        if size >= CHUNK_CHARS:
            yield "".join(parts)
            parts, size = [], 0
    if parts:
        yield "".join(parts)


def _jsonl_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    return _chunked(dumps(row) + "\n" for row in rows)


def _json_pieces(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    yield '{"results":['
    first = True
    for row in rows:
        yield ("" if first else ",") + dumps(row)
        first = False
    yield "]}"


def _json_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    return _chunked(_json_pieces(rows))


def _in_transaction(body: Iterator[str]) -> Iterator[str]:
    """Hold one read transaction while the body is produced (see the module's docstring)."""
    with transaction.atomic():
        yield from body


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
    response = StreamingHttpResponse(_in_transaction(body), content_type=FORMATS[fmt])
    if fmt != "json":
        response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response


def stream_coco(
    *,
    categories: list[dict[str, Any]],
    images: Iterable[tuple[dict[str, Any], list[dict[str, Any]]]],
    filename: str,
) -> StreamingHttpResponse:
    """A COCO document: the annotations are written as they are read; the images, one short object per task,
    are held as text until the end, since COCO lists them apart from their annotations."""

    def pieces() -> Iterator[str]:
        dumps = json.JSONEncoder(ensure_ascii=False).encode
        held: list[str] = []
        yield '{"categories":' + dumps(categories) + ',"annotations":['
        first = True
        for image, drawn in images:
            held.append(dumps(image))
            for annotation in drawn:
                yield ("" if first else ",") + dumps(annotation)
                first = False
        yield '],"images":['
        for n, image_text in enumerate(held):
            yield ("," if n else "") + image_text
        yield "]}"

    response = StreamingHttpResponse(_in_transaction(_chunked(pieces())), content_type=FORMATS["json"])
    response["Content-Disposition"] = f'attachment; filename="{filename}.json"'
    return response
