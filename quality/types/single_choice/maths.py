"""Golden scoring by equality; aggregation by quality.aggregation (Dawid-Skene seeded with golden items, majority
vote or Wawa), whose database path (quality.loading) reads label indices by binary COPY instead of text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from quality.aggregation import DEFAULT_METHOD
from quality.aggregation import aggregate as aggregate_labels
from quality.types.base import TypeAnswers, TypeResults


def golden_score(answer: Any, golden: Any, *, options: Mapping[str, Any]) -> float:
    return 1.0 if answer == golden else 0.0


def golden_correct(score: float, *, options: Mapping[str, Any]) -> bool:
    return score == 1.0


def aggregate(answers: TypeAnswers, *, labels: Sequence[str], options: Mapping[str, Any]) -> TypeResults:
    code = {label: i for i, label in enumerate(labels)}
    gold_tasks = np.fromiter(answers.golden.keys(), np.int64, len(answers.golden))
    result = aggregate_labels(
        method=str(options.get("method", DEFAULT_METHOD)),
        task_idx=answers.task,
        worker_idx=answers.worker,
        label_idx=np.fromiter((code[v] for v in answers.values), np.int64, len(answers.values)),
        n_tasks=answers.n_tasks,
        n_workers=answers.n_workers,
        n_labels=len(labels),
        gold_task_idx=gold_tasks,
        gold_label_idx=np.fromiter((code[v] for v in answers.golden.values()), np.int64, len(gold_tasks)),
    )
    chosen = [labels[i] if i >= 0 else None for i in result.labels.tolist()]
    agreed = np.array([chosen[t] == v for t, v in zip(answers.task.tolist(), answers.values, strict=True)])
    given = np.bincount(answers.worker, minlength=answers.n_workers)
    matching = np.bincount(answers.worker, weights=agreed.astype(np.float64), minlength=answers.n_workers)
    return TypeResults(
        answers=chosen,
        confidence=result.confidence,
        worker_score=np.divide(matching, given, out=np.zeros(answers.n_workers), where=given > 0),
    )
