"""Parse task uploads (JSON body, CSV, JSONL) row by row; one bad row rejects the whole upload."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from fairlabel.errors import ServiceError

MAX_FIELD_LENGTH = 200
MAX_TASK_DATA_BYTES = 64 * 1024


@dataclass(frozen=True)
class TaskRow:
    data: dict[str, Any]
    golden: str | None
    external_id: str | None


def _bad_row(row: int, problem: str) -> ServiceError:
    return ServiceError(
        code="invalid_upload",
        message=f"Row {row}: {problem}. Nothing was imported.",
        details={"row": row, "problem": problem},
    )


def _validated(row: int, raw: object, labels: set[str]) -> TaskRow:
    if not isinstance(raw, dict):
        raise _bad_row(row, 'a task must be an object with a "data" object')
    unknown = set(raw) - {"data", "golden", "external_id"}
    if unknown:
        raise _bad_row(row, f"unknown field(s): {', '.join(sorted(map(str, unknown)))}")
    data = raw.get("data")
    if not isinstance(data, dict) or not data:
        raise _bad_row(row, 'missing data: "data" must be a non-empty object')
    if len(json.dumps(data, ensure_ascii=False).encode()) > MAX_TASK_DATA_BYTES:
        raise _bad_row(row, f"data is larger than {MAX_TASK_DATA_BYTES // 1024} KB")
    golden = raw.get("golden")
    if golden is not None and (not isinstance(golden, str) or golden not in labels):
        raise _bad_row(row, f"unknown golden label {golden!r}: it must be one of the pool's labels")
    external_id = raw.get("external_id")
    if external_id is not None:
        if isinstance(external_id, bool) or not isinstance(external_id, (str, int)):
            raise _bad_row(row, "external_id must be a string")
        external_id = str(external_id)
        if len(external_id) > MAX_FIELD_LENGTH:
            raise _bad_row(row, f"external_id is longer than {MAX_FIELD_LENGTH} characters")
    return TaskRow(data=data, golden=golden, external_id=external_id or None)


def rows_from_json(*, tasks: object, labels: Iterable[str]) -> Iterator[TaskRow]:
    if not isinstance(tasks, list):
        raise ServiceError(code="invalid_upload", message='"tasks" must be a list of task objects.')
    if not tasks:
        raise ServiceError(code="invalid_upload", message="The upload is empty: no tasks were given.")
    label_set = set(labels)
    for number, raw in enumerate(tasks, start=1):
        yield _validated(number, raw, label_set)


def _decoded_lines(file: IO[bytes]) -> Iterator[str]:
    """Decode line by line, so a bad byte is reported at its own row rather than where a buffer began."""
    for number, line in enumerate(file, start=1):
        yield line.decode("utf-8-sig" if number == 1 else "utf-8")


def rows_from_csv(*, file: IO[bytes], labels: Iterable[str]) -> Iterator[TaskRow]:
    """Header row; `golden` and `external_id` are special, every other column becomes a data key."""
    label_set = set(labels)
    reader = csv.reader(_decoded_lines(file))
    try:
        header = next(reader)
    except StopIteration:
        raise ServiceError(code="invalid_upload", message="The file is empty.", details={"row": 0}) from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise _bad_row(0, f"the header cannot be read ({exc})") from exc
    header = [name.strip() for name in header]
    data_columns = [name for name in header if name not in {"golden", "external_id"}]
    if not data_columns or any(not name for name in header) or len(set(header)) != len(header):
        raise _bad_row(0, "the header needs distinct, non-empty column names and at least one data column")
    count = 0
    try:
        for number, values in enumerate(reader, start=1):
            if not values:
                continue
            if len(values) != len(header):
                raise _bad_row(number, f"{len(values)} fields where the header has {len(header)}")
            record = dict(zip(header, values, strict=True))
            data = {name: record[name] for name in data_columns}
            if all(value == "" for value in data.values()):
                raise _bad_row(number, "missing data: every data column is empty")
            raw = {
                "data": data,
                "golden": record.get("golden") or None,
                "external_id": record.get("external_id") or None,
            }
            count += 1
            yield _validated(number, raw, label_set)
    except UnicodeDecodeError as exc:
        raise _bad_row(count + 1, "the file is not UTF-8 text") from exc
    except csv.Error as exc:
        raise _bad_row(count + 1, f"malformed CSV ({exc})") from exc
    if count == 0:
        raise ServiceError(
            code="invalid_upload", message="The file has a header but no tasks.", details={"row": 1}
        )


def rows_from_jsonl(*, file: IO[bytes], labels: Iterable[str]) -> Iterator[TaskRow]:
    label_set = set(labels)
    count = 0
    for number, line in enumerate(file, start=1):
        try:
            text = line.decode("utf-8-sig" if number == 1 else "utf-8").strip()
        except UnicodeDecodeError as exc:
            raise _bad_row(number, "the line is not UTF-8 text") from exc
        if not text:
            continue
        try:
            raw = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise _bad_row(
                number, f"bad JSON ({exc.msg if isinstance(exc, json.JSONDecodeError) else 'too deep'})"
            ) from exc
        count += 1
        yield _validated(number, raw, label_set)
    if count == 0:
        raise ServiceError(code="invalid_upload", message="The file is empty.", details={"row": 1})


def rows_from_upload(*, name: str, file: IO[bytes], labels: Iterable[str]) -> Iterator[TaskRow]:
    lowered = name.lower()
    if lowered.endswith(".csv"):
        return rows_from_csv(file=file, labels=labels)
    if lowered.endswith(".jsonl") or lowered.endswith(".ndjson"):
        return rows_from_jsonl(file=file, labels=labels)
    raise ServiceError(
        code="unsupported_file_type",
        message="Upload a .csv file (header row) or a .jsonl file (one task per line).",
        details={"filename": name},
    )
