"""Parse task uploads (JSON body, CSV, JSONL, JSON files) row by row; one bad row rejects the whole upload.

Files are read as streams: a line (CSV, JSONL) or one array item (JSON, through ijson) at a time, so a file of a
million tasks never sits in memory whole.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, Protocol

import ijson

from fairlabel.errors import ServiceError
from fairlabel.parsers import json_problem

MAX_FIELD_LENGTH = 200
MAX_TASK_DATA_BYTES = 64 * 1024
# A JSON \u0000 escape (not an escaped backslash followed by "u0000").
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


class RowCheck(Protocol):
    """The pool's task type, as an upload needs it (quality.types.RowCheck): tasks does not know types."""

    def golden(self, raw: object) -> str:
        """A golden answer's stored text; ValueError saying what is wrong."""
        ...

    def data_problem(self, data: Mapping[str, Any]) -> str | None: ...


@dataclass(frozen=True)
class TaskRow:
    data: dict[str, Any]
    golden: str | None  # the golden answer's stored text (quality/types), None for a regular task
    external_id: str | None
    # `data` as JSON text, already made for the size check; the bulk import writes it as is.
    data_json: str = ""


class CountingReader:
    """A binary file wrapper that counts the bytes read, so a background import can show how far it got."""

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._file.read(size)
        self.bytes_read += len(chunk)
        return chunk

    def __iter__(self) -> Iterator[bytes]:
        for line in self._file:
            self.bytes_read += len(line)
            yield line


def _bad_row(row: int, problem: str) -> ServiceError:
    return ServiceError(
        code="invalid_upload",
        message=f"Row {row}: {problem}. Nothing was imported.",
        details={"row": row, "problem": problem},
    )


def _validated(row: int, raw: object, check: RowCheck) -> TaskRow:
    if not isinstance(raw, dict):
        raise _bad_row(row, 'a task must be an object with a "data" object')
    unknown = set(raw) - {"data", "golden", "external_id"}
    if unknown:
        raise _bad_row(row, f"unknown field(s): {', '.join(sorted(map(str, unknown)))}")
    data = raw.get("data")
    if not isinstance(data, dict) or not data:
        raise _bad_row(row, 'missing data: "data" must be a non-empty object')
    # Nesting too deep for the JSON encoder, and lone surrogates PostgreSQL cannot store, failed later with a
    # 500; the same rule as for API bodies (fairlabel.parsers).
    problem = json_problem(data)
    if problem is not None:
        raise _bad_row(row, f"data: {problem}")
    try:
        data_json = json.dumps(data, ensure_ascii=False)
    except ValueError as exc:  # NaN and Infinity are not JSON; jsonb refuses them
        raise _bad_row(row, f"data holds a value JSON cannot carry ({exc})") from exc
    if len(data_json) > MAX_TASK_DATA_BYTES // 4 and len(data_json.encode()) > MAX_TASK_DATA_BYTES:
        raise _bad_row(row, f"data is larger than {MAX_TASK_DATA_BYTES // 1024} KB")
    # PostgreSQL text and jsonb cannot hold a NUL character; refuse it here with its row number.
    if "\\u0000" in data_json and _NUL_ESCAPE.search(data_json):
        raise _bad_row(row, "data contains a NUL character (\\u0000)")
    problem = check.data_problem(data)
    if problem is not None:
        raise _bad_row(row, problem)
    golden = raw.get("golden")
    if golden is not None:
        try:
            golden = check.golden(golden)
        except ValueError as exc:
            raise _bad_row(row, str(exc).rstrip(".")) from exc
    external_id = raw.get("external_id")
    if external_id is not None:
        if isinstance(external_id, bool) or not isinstance(external_id, (str, int)):
            raise _bad_row(row, "external_id must be a string")
        external_id = str(external_id)
        if len(external_id) > MAX_FIELD_LENGTH:
            raise _bad_row(row, f"external_id is longer than {MAX_FIELD_LENGTH} characters")
        if "\x00" in external_id:
            raise _bad_row(row, "external_id contains a NUL character")
        if json_problem(external_id) is not None:
            raise _bad_row(row, "external_id holds a character no database can store")
    return TaskRow(data=data, golden=golden, external_id=external_id or None, data_json=data_json)


def rows_from_json(*, tasks: object, check: RowCheck) -> Iterator[TaskRow]:
    if not isinstance(tasks, list):
        raise ServiceError(code="invalid_upload", message='"tasks" must be a list of task objects.')
    if not tasks:
        raise ServiceError(code="invalid_upload", message="The upload is empty: no tasks were given.")
    for number, raw in enumerate(tasks, start=1):
        yield _validated(number, raw, check)


def _decoded_lines(file: IO[bytes]) -> Iterator[str]:
    """Decode line by line, so a bad byte is reported at its own row rather than where a buffer began."""
    for number, line in enumerate(file, start=1):
        yield line.decode("utf-8-sig" if number == 1 else "utf-8")


def rows_from_csv(*, file: IO[bytes], check: RowCheck) -> Iterator[TaskRow]:
    """Header row; `golden` and `external_id` are special, every other column becomes a data key."""
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
            yield _validated(number, raw, check)
    except UnicodeDecodeError as exc:
        raise _bad_row(count + 1, "the file is not UTF-8 text") from exc
    except csv.Error as exc:
        raise _bad_row(count + 1, f"malformed CSV ({exc})") from exc
    if count == 0:
        raise ServiceError(
            code="invalid_upload", message="The file has a header but no tasks.", details={"row": 1}
        )


def rows_from_jsonl(*, file: IO[bytes], check: RowCheck) -> Iterator[TaskRow]:
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
        yield _validated(number, raw, check)
    if count == 0:
        raise ServiceError(code="invalid_upload", message="The file is empty.", details={"row": 1})


class _Replay:
    """A file whose first bytes were already read (to see what the JSON starts with), readable from the start."""

    def __init__(self, head: bytes, file: IO[bytes]) -> None:
        self._head = head
        self._file = file

    def read(self, size: int = -1) -> bytes:
        if self._head:
            chunk = self._head if size < 0 else self._head[:size]
            self._head = self._head[len(chunk) :]
            return chunk
        return self._file.read(size)


# What Label Studio's task export ("JSON") carries beside a task's "data": its own bookkeeping. A task from it
# keeps its data and its Label Studio id as external_id; its annotations and predictions are left behind
# (this platform stores neither from outside yet), the rest is Label Studio's own state.
LABEL_STUDIO_TASK_KEYS = frozenset(
    {
        "id", "annotations", "predictions", "drafts", "meta", "created_at", "updated_at", "inner_id",
        "total_annotations", "cancelled_annotations", "total_predictions", "comment_count",
        "unresolved_comment_count", "last_comment_updated_at", "project", "updated_by", "file_upload",
        "comment_authors", "annotators", "is_labeled", "overlap", "storage_filename", "annotations_results",
        "predictions_results", "annotations_ids", "predictions_model_versions", "avg_lead_time",
        "draft_exists", "completed_at", "ground_truth",
    }
)  # fmt: skip


def _from_label_studio(raw: object) -> object:
    """A Label Studio task as this platform's task object; anything else as it came."""
    if not isinstance(raw, dict) or "data" not in raw or not (set(raw) & LABEL_STUDIO_TASK_KEYS):
        return raw
    task = {key: value for key, value in raw.items() if key not in LABEL_STUDIO_TASK_KEYS}
    if (
        "external_id" not in task
        and isinstance(raw.get("id"), (int, str))
        and not isinstance(raw["id"], bool)
    ):
        task["external_id"] = str(raw["id"])
    return task


def rows_from_json_file(*, file: IO[bytes], check: RowCheck) -> Iterator[TaskRow]:
    """A JSON array of task objects, or {"tasks": [...]}, parsed one item at a time (ijson's C backend).
    Label Studio's task export is such an array; its tasks are read as `_from_label_studio` says."""
    head = file.read(4096)
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    first = head.lstrip()[:1]
    if first not in (b"[", b"{"):
        raise _bad_row(1, 'a .json file must hold an array of tasks or an object {"tasks": [...]}')
    prefix = "item" if first == b"[" else "tasks.item"
    count = 0
    try:
        for raw in ijson.items(_Replay(head, file), prefix, use_float=True):
            count += 1
            yield _validated(count, _from_label_studio(raw), check)
    except ijson.JSONError as exc:
        raise _bad_row(count + 1, f"bad JSON ({str(exc)[:200]})") from exc
    except UnicodeDecodeError as exc:
        raise _bad_row(count + 1, "the file is not UTF-8 text") from exc
    if count == 0:
        raise ServiceError(code="invalid_upload", message="The file holds no tasks.", details={"row": 1})


FILE_TYPES = (".csv", ".jsonl", ".ndjson", ".json")


def rows_from_upload(*, name: str, file: IO[bytes], check: RowCheck) -> Iterator[TaskRow]:
    lowered = name.lower()
    if lowered.endswith(".csv"):
        return rows_from_csv(file=file, check=check)
    if lowered.endswith(".jsonl") or lowered.endswith(".ndjson"):
        return rows_from_jsonl(file=file, check=check)
    if lowered.endswith(".json"):
        return rows_from_json_file(file=file, check=check)
    raise ServiceError(
        code="unsupported_file_type",
        message=(
            "Upload a .csv file (header row), a .jsonl file (one task per line) "
            'or a .json file (an array of tasks, or {"tasks": [...]}).'
        ),
        details={"filename": name},
    )
