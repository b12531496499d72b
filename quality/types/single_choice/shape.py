"""One label from the pool's list: today's pools. The canonical text of an answer is the label itself."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from quality.types.base import AnswerProblem


def options_clean(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {}


def data_problem(data: Mapping[str, Any], *, options: Mapping[str, Any]) -> str | None:
    return None


def answer_parse(raw: Any, *, labels: Sequence[str], options: Mapping[str, Any]) -> str:
    if not isinstance(raw, str) or raw not in labels:
        raise AnswerProblem(f"{raw!r} is not one of this pool's labels ({', '.join(labels)}).")
    return raw


def golden_parse(raw: Any, *, labels: Sequence[str], options: Mapping[str, Any]) -> str:
    if not isinstance(raw, str) or raw not in labels:
        raise AnswerProblem(f"unknown golden label {raw!r}: it must be one of the pool's labels")
    return raw


def answer_value(text: str) -> Any:
    return text


def label_studio_result(answer: Any) -> list[dict[str, Any]]:
    """The answer as a Label Studio annotation's result: a <Choices name="answer" toName="task"> pick."""
    return [{"from_name": "answer", "to_name": "task", "type": "choices", "value": {"choices": [answer]}}]
