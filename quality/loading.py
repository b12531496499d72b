"""Moving a pool's answers and results between the database and numpy arrays, fast.

Binary COPY in both directions, parsed and built by numpy with fixed-width row layouts, so a million answers
never become a million Python objects (docs/benchmarks.md, "Aggregation": the read of a pool of 1,000,000
tasks is part of a run measured in seconds, where Python objects per answer would take minutes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from django.db import connection
from django.db.models.fields.json import KeyTransform

from tasks.models import Answer, AnswerStatus, Pool, Task

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_COPY_HEADER = _COPY_SIGNATURE + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"  # flags, header extension length
_COPY_TRAILER = b"\xff\xff"

# One answer row of the binary COPY below: field count, then (length, value) for task_id int8,
# worker_id int8 and the 0-based label index int4. Every field is NOT NULL, so every row has this size.
_ANSWER_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("task_len", ">i4"),
        ("task", ">i8"),
        ("worker_len", ">i4"),
        ("worker", ">i8"),
        ("label_len", ">i4"),
        ("label", ">i4"),
    ]
)

# One result row into the temporary table: task_id int8, label index int2, confidence float8, answers int4.
_RESULT_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("task_len", ">i4"),
        ("task", ">i8"),
        ("label_len", ">i4"),
        ("label", ">i2"),
        ("confidence_len", ">i4"),
        ("confidence", ">f8"),
        ("raw_confidence_len", ">i4"),
        ("raw_confidence", ">f8"),
        ("answers_len", ">i4"),
        ("answers", ">i4"),
    ]
)


@dataclass(frozen=True)
class RawAnswers:
    """Answers as database ids and 0-based label indices (in the order of pool.labels)."""

    task_id: IntArray
    worker_id: IntArray
    label: IntArray
    gold_task_id: IntArray
    gold_label: IntArray


def pool_raw_answers(*, pool: Pool) -> RawAnswers:
    """Every answer of the pool that counts (rejected ones do not), and the golden tasks' true labels."""
    labels = list(pool.labels)
    task_id, worker_id, label = _answers_by_copy(pool_id=pool.pk, labels=labels)
    position = {name: i for i, name in enumerate(labels)}
    gold = [
        (task, position[golden])
        for task, golden in Task.objects.filter(pool=pool, golden_label__isnull=False).values_list(
            "id", "golden_label"
        )
        if golden in position  # a golden label outside the pool's labels cannot anchor anything
    ]
    return RawAnswers(
        task_id=task_id,
        worker_id=worker_id,
        label=label,
        gold_task_id=np.array([t for t, _ in gold], dtype=np.int64),
        gold_label=np.array([g for _, g in gold], dtype=np.int64),
    )


def _answers_by_copy(*, pool_id: int, labels: list[str]) -> tuple[IntArray, IntArray, IntArray]:
    query = (
        f"COPY (SELECT a.task_id::int8, a.worker_id::int8, (array_position(%s::text[], a.label) - 1)::int4 "
        f"FROM {Answer._meta.db_table} a "
        f"WHERE a.pool_id = %s AND a.status <> %s AND a.label = ANY(%s::text[])) TO STDOUT (FORMAT BINARY)"
    )
    connection.ensure_connection()
    chunks: list[bytes] = []
    # psycopg's own cursor: Django's wrapper has no COPY.
    with (
        connection.connection.cursor() as cursor,
        cursor.copy(query, (labels, pool_id, AnswerStatus.REJECTED, labels)) as copy,
    ):
        chunks.extend(bytes(block) for block in copy)
    rows = _parse_copy(b"".join(chunks), _ANSWER_ROW, fields=3)
    return (
        rows["task"].astype(np.int64),
        rows["worker"].astype(np.int64),
        rows["label"].astype(np.int64),
    )


def _parse_copy(data: bytes, row: np.dtype[Any], *, fields: int) -> np.ndarray:
    if not data.startswith(_COPY_SIGNATURE) or not data.endswith(_COPY_TRAILER):
        raise ValueError("not a PostgreSQL binary COPY stream")
    extension = int.from_bytes(data[15:19], "big")
    start = 19 + extension
    body = len(data) - start - len(_COPY_TRAILER)
    if body % row.itemsize:
        raise ValueError(f"COPY rows are not {row.itemsize} bytes each (a NULL or a changed column type?)")
    rows = np.frombuffer(data, dtype=row, count=body // row.itemsize, offset=start)
    if rows.size and not (rows["fields"] == fields).all():
        raise ValueError("unexpected field count in COPY data")
    return rows


def results_write(
    *,
    pool: Pool,
    method: str,
    task_id: IntArray,
    label: IntArray,
    confidence: FloatArray,
    raw_confidence: FloatArray,
    answers: IntArray,
    now: datetime,
    as_of: datetime,
) -> None:
    """Make the pool's stored results these rows, in the caller's transaction.

    `as_of` is when the run read the answers: a row a submit wrote after that (an estimate between runs)
    knows more than this run does, so it is left alone.
    """
    _results_by_copy(
        pool=pool,
        method=method,
        task_id=task_id,
        label=label,
        confidence=confidence,
        raw_confidence=raw_confidence,
        answers=answers,
        now=now,
        as_of=as_of,
    )


def _results_by_copy(
    *,
    pool: Pool,
    method: str,
    task_id: IntArray,
    label: IntArray,
    confidence: FloatArray,
    raw_confidence: FloatArray,
    answers: IntArray,
    now: datetime,
    as_of: datetime,
) -> None:
    from quality.models import TaskResult

    table = TaskResult._meta.db_table
    rows = np.empty(task_id.size, dtype=_RESULT_ROW)
    rows["fields"] = 5
    rows["task_len"], rows["label_len"], rows["answers_len"] = 8, 2, 4
    rows["confidence_len"] = rows["raw_confidence_len"] = 8
    rows["task"], rows["label"], rows["answers"] = task_id, label, answers
    rows["confidence"], rows["raw_confidence"] = confidence, raw_confidence
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS quality_result_in "
            "(task_id int8, label int2, confidence float8, raw_confidence float8, answers int4) ON COMMIT DELETE ROWS"
        )
        cursor.execute("TRUNCATE quality_result_in")
        with cursor.cursor.copy("COPY quality_result_in FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(_COPY_HEADER)
            copy.write(rows.tobytes())
            copy.write(_COPY_TRAILER)
        cursor.execute("ANALYZE quality_result_in")
        # Bulk statements over two tables of up to hundreds of thousands of rows: a nested loop chosen on stale
        # statistics (a pool's first results, a table analyzed while empty) goes quadratic; one insert of
        # 200,000 results took 460 s that way instead of 1. Hash joins are linear whatever the statistics say.
        cursor.execute("SET LOCAL enable_nestloop = off")
        params: dict[str, Any] = {
            "pool": pool.pk,
            "method": method,
            "labels": list(pool.labels),
            "now": now,
            "as_of": as_of,
        }
        # Only rows that changed are written: unchanged ones leave no dead tuples and keep their updated_at. A
        # row written after `as_of` (an estimate at submit) is newer than this run and is left alone.
        cursor.execute(
            f"""
            UPDATE {table} AS r
            SET method = %(method)s, label = (%(labels)s::text[])[i.label + 1], confidence = i.confidence,
                raw_confidence = i.raw_confidence, answers = i.answers, updated_at = %(now)s
            FROM quality_result_in i
            WHERE r.pool_id = %(pool)s AND r.task_id = i.task_id AND r.updated_at < %(as_of)s
              AND (r.method, r.label, r.confidence, r.raw_confidence, r.answers) IS DISTINCT FROM
                  (%(method)s, (%(labels)s::text[])[i.label + 1], i.confidence, i.raw_confidence, i.answers)
            """,
            params,
        )
        # A task's result row always carries the task's pool, so the pool's rows are all there is to look at.
        cursor.execute(
            f"""
            INSERT INTO {table} (task_id, pool_id, method, label, confidence, raw_confidence, answers, updated_at)
            SELECT i.task_id, %(pool)s, %(method)s, (%(labels)s::text[])[i.label + 1], i.confidence,
                   i.raw_confidence, i.answers, %(now)s
            FROM quality_result_in i
            WHERE NOT EXISTS (SELECT 1 FROM {table} r WHERE r.pool_id = %(pool)s AND r.task_id = i.task_id)
            ON CONFLICT (task_id) DO NOTHING
            """,
            params,
        )
        # A task whose answers were all rejected since the last run has no result any more.
        cursor.execute(
            f"""
            DELETE FROM {table} r WHERE r.pool_id = %(pool)s AND r.updated_at < %(as_of)s
            AND NOT EXISTS (SELECT 1 FROM quality_result_in i WHERE i.task_id = r.task_id)
            """,
            params,
        )
        cursor.execute("SET LOCAL enable_nestloop = on")


# ------------------------------------------------------------------------ task types other than one label


@dataclass(frozen=True)
class TextAnswers:
    """Answers as database ids and their canonical text (quality/types), and the golden tasks' answers.

    `task_fields` holds, per task id, the data fields the type's aggregation reads (pairwise: "left" and
    "right"), or is empty when it reads none.
    """

    task_id: IntArray
    worker_id: IntArray
    text: list[str]
    gold_task_id: IntArray
    gold_text: list[str]
    task_fields: dict[int, dict[str, Any]]


def pool_text_answers(*, pool: Pool, data_fields: tuple[str, ...] = ()) -> TextAnswers:
    """Every answer of the pool that counts (rejected ones do not), by text COPY: one row per answer becomes a
    tuple, not a model instance (about 1 s per million answers)."""
    connection.ensure_connection()
    tasks, workers, texts = [], [], []
    query = (
        f"COPY (SELECT a.task_id, a.worker_id, a.label FROM {Answer._meta.db_table} a "
        f"WHERE a.pool_id = %s AND a.status <> %s) TO STDOUT"
    )
    with (
        connection.connection.cursor() as cursor,
        cursor.copy(query, (pool.pk, AnswerStatus.REJECTED)) as copy,
    ):
        copy.set_types(["int8", "int8", "text"])
        for task, worker, text in copy.rows():
            tasks.append(task)
            workers.append(worker)
            texts.append(text)
    gold = list(
        Task.objects.filter(pool=pool, golden_label__isnull=False)
        .order_by("id")
        .values_list("id", "golden_label")
    )
    task_fields: dict[int, dict[str, Any]] = {}
    if data_fields:
        wanted = {f"field_{i}": KeyTransform(name, "data") for i, name in enumerate(data_fields)}
        for row in Task.objects.filter(pool=pool).annotate(**wanted).values("id", *wanted).iterator(5000):
            task_fields[row["id"]] = {name: row[f"field_{i}"] for i, name in enumerate(data_fields)}
    return TextAnswers(
        task_id=np.array(tasks, dtype=np.int64),
        worker_id=np.array(workers, dtype=np.int64),
        text=texts,
        gold_task_id=np.array([t for t, _ in gold], dtype=np.int64),
        gold_text=[g for _, g in gold if g is not None],
        task_fields=task_fields,
    )


def text_results_write(
    *,
    pool: Pool,
    method: str,
    task_id: IntArray,
    text: list[str],
    answer_json: list[str],
    label_confidence_json: list[str | None],
    confidence: FloatArray,
    answers: IntArray,
    now: datetime,
    as_of: datetime,
) -> None:
    """`results_write` for results held as text (and their JSON detail), by text COPY into a temporary table
    and the same three statements: rows that changed, rows that are new, rows whose task has no result."""
    from quality.models import TaskResult

    table = TaskResult._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS quality_text_result_in "
            "(task_id int8, label text, answer jsonb, label_confidence jsonb, confidence float8, answers int4) "
            "ON COMMIT DELETE ROWS"
        )
        cursor.execute("TRUNCATE quality_text_result_in")
        with cursor.cursor.copy("COPY quality_text_result_in FROM STDIN") as copy:
            for row in zip(
                task_id.tolist(),
                text,
                answer_json,
                label_confidence_json,
                confidence.tolist(),
                answers.tolist(),
                strict=True,
            ):
                copy.write_row(row)
        cursor.execute("ANALYZE quality_text_result_in")
        cursor.execute("SET LOCAL enable_nestloop = off")  # as in _results_by_copy
        params: dict[str, Any] = {"pool": pool.pk, "method": method, "now": now, "as_of": as_of}
        cursor.execute(
            f"""
            UPDATE {table} AS r
            SET method = %(method)s, label = i.label, answer = i.answer, label_confidence = i.label_confidence,
                confidence = i.confidence, answers = i.answers, updated_at = %(now)s
            FROM quality_text_result_in i
            WHERE r.pool_id = %(pool)s AND r.task_id = i.task_id AND r.updated_at < %(as_of)s
              AND (r.method, r.label, r.answer, r.label_confidence, r.confidence, r.answers)
                  IS DISTINCT FROM (%(method)s, i.label, i.answer, i.label_confidence, i.confidence, i.answers)
            """,
            params,
        )
        cursor.execute(
            f"""
            INSERT INTO {table}
                (task_id, pool_id, method, label, answer, label_confidence, confidence, answers, updated_at)
            SELECT i.task_id, %(pool)s, %(method)s, i.label, i.answer, i.label_confidence, i.confidence, i.answers,
                %(now)s
            FROM quality_text_result_in i
            WHERE NOT EXISTS (SELECT 1 FROM {table} r WHERE r.pool_id = %(pool)s AND r.task_id = i.task_id)
            ON CONFLICT (task_id) DO NOTHING
            """,
            params,
        )
        cursor.execute(
            f"""
            DELETE FROM {table} r WHERE r.pool_id = %(pool)s AND r.updated_at < %(as_of)s
            AND NOT EXISTS (SELECT 1 FROM quality_text_result_in i WHERE i.task_id = r.task_id)
            """,
            params,
        )
        cursor.execute("SET LOCAL enable_nestloop = on")
