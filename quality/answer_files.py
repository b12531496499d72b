"""Answers from anywhere, as CSV files (task,worker,label and task,label for gold), aggregated as pools are.

No database: `manage.py aggregate` and `POST /api/v1/aggregate/` both read through here, so a file gives the
same labels and confidences either way.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

import numpy as np

from quality.aggregation import encode_answers, label_sort_key
from quality.calibration import Calibration, aggregate_calibrated

ANSWERS_HEADER = ("task", "worker", "label")
GOLD_HEADER = ("task", "label")


class AnswerFileError(ValueError):
    """A file that cannot be read as it should be; the message names the file and the line."""


@dataclass(frozen=True)
class FileResults:
    """One row per task, in order of first appearance in the answers file."""

    tasks: list[str]
    labels: list[str]
    confidence: list[float]  # calibrated where there were enough golden tasks
    raw_confidence: list[float]  # the method's own
    calibration: Calibration


def read_rows(file: TextIO, *, name: str, header: tuple[str, ...]) -> Iterator[tuple[int, tuple[str, ...]]]:
    """Yield (line number, row) for the data rows of a CSV text that starts with ``header``.

    Malformed input raises AnswerFileError naming the file and the 1-based line: a missing or wrong header, a
    row with the wrong number of fields, an empty value, broken quoting or bytes that are not UTF-8.
    """
    line = 0
    try:
        reader = csv.reader(file, strict=True)
        first = next(reader, None)
        line = reader.line_num or 1
        if first is None:
            raise AnswerFileError(
                f"{name}, line 1: the file is empty; expected the header {','.join(header)}"
            )
        if tuple(field.strip() for field in first) != header:
            raise AnswerFileError(
                f"{name}, line {line}: expected the header {','.join(header)}, got {','.join(first)}"
            )
        for row in reader:
            line = reader.line_num
            if not row:
                continue  # a blank line
            if len(row) != len(header):
                raise AnswerFileError(
                    f"{name}, line {line}: expected {len(header)} fields ({','.join(header)}), got {len(row)}"
                )
            for column, value in zip(header, row, strict=True):
                if not value.strip():
                    raise AnswerFileError(f"{name}, line {line}: missing {column}")
            yield line, tuple(row)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise AnswerFileError(f"{name}, line {line + 1}: {exc}") from exc


def read_gold(file: TextIO, *, name: str) -> dict[str, str]:
    """Golden labels by task; the same task twice with different labels is an error."""
    gold: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for line, (task, label) in read_rows(file, name=name, header=GOLD_HEADER):
        known = gold.setdefault(task, label)
        first_line.setdefault(task, line)
        if known != label:
            raise AnswerFileError(
                f"{name}, line {line}: task {task!r} has gold label {label!r} here "
                f"but {known!r} on line {first_line[task]}"
            )
    return gold


def answer_file_aggregate(
    *, answers: TextIO, answers_name: str, gold: TextIO | None, gold_name: str = "gold", method: str
) -> FileResults:
    tasks: list[str] = []
    workers: list[str] = []
    labels: list[str] = []
    for _, (task, worker, label) in read_rows(answers, name=answers_name, header=ANSWERS_HEADER):
        tasks.append(task)
        workers.append(worker)
        labels.append(label)
    known = read_gold(gold, name=gold_name) if gold is not None else {}
    encoded = encode_answers(
        tasks=tasks,
        workers=workers,
        labels=labels,
        label_order=sorted(set(labels) | set(known.values()), key=label_sort_key),
    )
    del tasks, workers, labels
    task_code = {task: i for i, task in enumerate(encoded.tasks)}
    label_code = {label: i for i, label in enumerate(encoded.labels)}
    golden = [(task_code[task], label_code[label]) for task, label in known.items() if task in task_code]
    calibrated = aggregate_calibrated(
        method=method,
        task_idx=encoded.task_idx,
        worker_idx=encoded.worker_idx,
        label_idx=encoded.label_idx,
        n_tasks=len(encoded.tasks),
        n_workers=len(encoded.workers),
        n_labels=len(encoded.labels),
        gold_task_idx=np.array([task for task, _ in golden], dtype=np.int64),
        gold_label_idx=np.array([label for _, label in golden], dtype=np.int64),
    )
    result = calibrated.result
    return FileResults(
        tasks=list(encoded.tasks),
        labels=[encoded.labels[label] for label in result.labels.tolist()],
        confidence=result.confidence.tolist(),
        raw_confidence=calibrated.raw_confidence.tolist(),
        calibration=calibrated.calibration,
    )
