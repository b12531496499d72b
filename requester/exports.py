"""Streamed downloads in CSV, JSONL and JSON: rows are written as they are read, never held all at once.
Parquet, whose footer describes the whole file, is written batch by batch to a temporary file first.

The rows are read inside a transaction, so on PostgreSQL `.iterator()` uses a plain server-side cursor that
starts returning rows at once (outside one, Django declares it WITH HOLD, which makes PostgreSQL materialise
the whole result before the first row). Output goes out in chunks of about 64 KB: one write per row would
cost a system call per row.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from django.db import transaction
from django.http import FileResponse, StreamingHttpResponse

from fairlabel.errors import ServiceError
from fairlabel.spreadsheets import spreadsheet_row

FORMATS = {
    "json": "application/json",
    "jsonl": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}
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


def _json_array(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    yield "["
    for n, row in enumerate(rows):
        yield ("," if n else "") + dumps(row)
    yield "]"


def _json_pieces(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    yield '{"results":'
    yield from _json_array(rows)
    yield "}"


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
            message="format must be json, csv, jsonl or parquet.",
            details={"allowed": list(FORMATS)},
        )
    return fmt


def stream_rows(
    *,
    rows: Iterable[dict[str, Any]],
    columns: list[str],
    fmt: str,
    filename: str,
    answer_shape: str = "text",
) -> StreamingHttpResponse | FileResponse:
    """`answer_shape` is the task type's export_shape: the Parquet type of the `answer` column."""
    if fmt == "parquet":
        return _parquet_response(rows=rows, columns=columns, answer_shape=answer_shape, filename=filename)
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


def stream_json_array(*, items: Iterable[dict[str, Any]], filename: str) -> StreamingHttpResponse:
    """A bare JSON array (Label Studio's task JSON), written as it is read."""
    response = StreamingHttpResponse(
        _in_transaction(_chunked(_json_array(items))), content_type=FORMATS["json"]
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}.json"'
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


# ------------------------------------------------------------------------------------------------- Parquet

PARQUET_BATCH_ROWS = 10_000


def _parquet_types() -> dict[str, Any]:
    # pyarrow is imported where a Parquet file is asked for: it costs every web process tens of MB otherwise.
    import pyarrow as pa

    return {
        "task_id": pa.int64(),
        "external_id": pa.string(),
        "worker": pa.string(),
        "label": pa.string(),
        "submitted_at": pa.timestamp("us", tz="UTC"),
        "duration_ms": pa.int64(),
        "confidence": pa.float64(),
        "calibration": pa.string(),
        "answers": pa.int64(),
        "label_confidence": pa.map_(pa.string(), pa.float64()),
        "item": pa.string(),  # a comparison pool's ranking of items
        "score": pa.float64(),
        "rank": pa.int64(),
        "comparisons": pa.int64(),
    }


def _parquet_response(
    *, rows: Iterable[dict[str, Any]], columns: list[str], answer_shape: str, filename: str
) -> FileResponse:
    """Typed columns that pandas, pyarrow and Hugging Face datasets read as they are: ids as integers,
    confidence as a float, timestamps as timestamps, a multi-label answer as a list of strings. The file is
    complete before its first byte is sent, so a failure is an error answer, never a truncated file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = _parquet_types()
    types["answer"] = pa.list_(pa.string()) if answer_shape == "texts" else pa.string()
    schema = pa.schema([(column, types.get(column, pa.string())) for column in columns])
    as_text = [c for c in columns if schema.field(c).type == pa.string()]
    as_time = [c for c in columns if pa.types.is_timestamp(schema.field(c).type)]
    out = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it once sent
    with transaction.atomic(), pq.ParquetWriter(out, schema, compression="zstd") as writer:
        batch: list[dict[str, Any]] = []

        def flush() -> None:
            for row in batch:
                for column in as_text:
                    value = row[column]
                    if value is not None and not isinstance(value, str):
                        row[column] = json.dumps(value, ensure_ascii=False)  # records, as in CSV
                for column in as_time:  # the answers export reads timestamps as ISO text
                    value = row[column]
                    if isinstance(value, str):
                        row[column] = datetime.fromisoformat(value)
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            batch.clear()

        for row in rows:
            batch.append({column: row[column] for column in columns})
            if len(batch) >= PARQUET_BATCH_ROWS:
                flush()
        if batch:
            flush()
    out.seek(0)
    return FileResponse(
        out, as_attachment=True, filename=f"{filename}.parquet", content_type=FORMATS["parquet"]
    )
