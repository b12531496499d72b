"""What every task type declares, and the shapes its pure maths read and return.

A task type is one folder under quality/types/ (quality owns types because most of what sets a type apart is
how a golden answer is scored and how answers become one result with a confidence). Each folder holds:

* ``shape.py``: the pool options the type takes, the check of one task's data, and the answer's validation
  (``answer_parse``: a raw JSON value from a worker or a golden column -> the answer's canonical text, stored
  in ``tasks_answer.label`` / ``tasks_task.golden_label``) and its reading back (``answer_value``);
* ``maths.py``: golden scoring and aggregation, pure functions over arrays and lists, no database;
* the annotator fragment and its keyboard map (``annotator.html``);
* ``__init__.py``: one ``TaskType`` object built from those, which the registry (quality/types/__init__.py)
  lists under its name.

Answers are stored as text in the type's canonical form (sorted labels, rounded coordinates, trimmed text),
so one column serves every type, the submit stays one statement, and equal text means equal answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class AnswerProblem(ValueError):
    """An answer (or golden answer, or option) that does not fit the type; the message says what is wrong and
    is shown to the person who sent it."""


@dataclass(frozen=True)
class TypeAnswers:
    """A pool's answers for aggregation, one element per answer in the parallel fields.

    ``task`` and ``worker`` are 0-based codes (0..n_tasks-1, 0..n_workers-1); ``values`` are the decoded
    answers (what ``answer_value`` returns). ``golden`` maps a golden task's code to its decoded golden
    answer. ``task_data`` is each task's data object where the type needs it (pairwise reads its "left" and
    "right"), else None.
    """

    task: IntArray
    worker: IntArray
    values: Sequence[Any]
    n_tasks: int
    n_workers: int
    golden: Mapping[int, Any] = field(default_factory=dict)
    task_data: Sequence[Mapping[str, Any]] | None = None


@dataclass(frozen=True)
class TypeResults:
    """One result per task and a figure per worker.

    ``answers[t]`` is the aggregated answer of task t in the type's answer shape (JSON-ready), None when the
    task has no answers; a golden task gets its golden answer. ``confidence[t]`` is in [0, 1] (0.0 with no
    answers, 1.0 for a golden task). ``worker_score[w]`` in [0, 1] is how well worker w agrees with the
    truth where known and with the results elsewhere (shown to staff). ``items`` (pairwise only) holds one
    row per compared item: {"item", "score", "rank", "comparisons"}. ``label_confidence`` (multi_choice only),
    shape (n_tasks, n_labels), is each label's own probability of belonging to the task, in pool label order.
    """

    answers: list[Any]
    confidence: FloatArray
    worker_score: FloatArray
    items: list[dict[str, Any]] | None = None
    label_confidence: FloatArray | None = None


def label_confidence_of(row: FloatArray, *, labels: Sequence[str]) -> dict[str, float]:
    """One task's row of ``TypeResults.label_confidence`` as the results give it: {label: p}, in pool order."""
    return {label: round(float(p), 6) for label, p in zip(labels, row.tolist(), strict=True)}
