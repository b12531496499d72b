"""The registry of task types, and what the lower apps are handed to check answers and uploads by type.

Adding a type: a folder beside single_choice/ declaring ``TYPE`` (quality/types/task_type.py) and one line in
``_ALL`` below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fairlabel.errors import ServiceError
from quality.types import boxes, multi_choice, pairwise, single_choice, text
from quality.types.base import AnswerProblem
from quality.types.task_type import TaskType
from tasks.models import Pool

_ALL: tuple[TaskType, ...] = (single_choice.TYPE, multi_choice.TYPE, text.TYPE, boxes.TYPE, pairwise.TYPE)
TYPES: Mapping[str, TaskType] = {task_type.name: task_type for task_type in _ALL}
DEFAULT_TYPE = single_choice.TYPE.name


def task_type_of(pool: Pool) -> TaskType:
    return TYPES[pool.task_type]


def task_type_named(name: str) -> TaskType:
    try:
        return TYPES[name]
    except KeyError:
        raise ServiceError(
            code="invalid_request",
            message=f"task_type must be one of: {', '.join(TYPES)}.",
            details={"task_type": [f"{name!r} is not a task type."]},
        ) from None


def pool_options(*, task_type: TaskType, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The type's options from a pool's settings (only the type's own keys are read), defaults filled in."""
    try:
        return task_type.options_clean({k: raw[k] for k in task_type.option_names if k in raw})
    except AnswerProblem as exc:
        raise ServiceError(code="invalid_request", message=str(exc)) from exc


@dataclass(frozen=True)
class AnswerJudge:
    """What tasks.services.answer_record is handed: the type's check of an answer and of a golden match.

    `error_code` is the API's: "invalid_answer" for {"answer": ...}; "invalid_label" for the older
    {"label": ...}, which clients written before task types expect.
    """

    error_code: str = "invalid_answer"

    def answer_text(self, *, pool: Pool, raw: object) -> str:
        task_type = TYPES[pool.task_type]
        try:
            return task_type.answer_parse(raw, labels=pool.labels, options=pool.options)
        except AnswerProblem as exc:
            details = {"labels": pool.labels} if task_type.needs_labels else {}
            raise ServiceError(code=self.error_code, message=str(exc), details=details) from exc

    def golden_correct(self, *, pool: Pool, answer_text: str, golden_text: str) -> bool:
        if pool.task_type == DEFAULT_TYPE:  # the hot path: a label against a label
            return answer_text == golden_text
        task_type = TYPES[pool.task_type]
        score = task_type.golden_score(
            task_type.answer_value(answer_text), task_type.answer_value(golden_text), options=pool.options
        )
        return task_type.golden_correct(score, options=pool.options)


@dataclass(frozen=True)
class RowCheck:
    """What an upload is checked with (tasks.importing): a golden answer and a task's data, by the pool's type."""

    pool: Pool

    def golden(self, raw: object) -> str:
        """The golden answer's stored text; ValueError with the problem for the upload's report."""
        return TYPES[self.pool.task_type].golden_parse(
            raw, labels=self.pool.labels, options=self.pool.options
        )

    def data_problem(self, data: Mapping[str, Any]) -> str | None:
        return TYPES[self.pool.task_type].data_problem(data, options=self.pool.options)


def row_check(pool: Pool) -> RowCheck:
    return RowCheck(pool=pool)
