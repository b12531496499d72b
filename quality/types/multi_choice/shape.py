"""Any number of labels from the pool's list (a listing tagged with several policy labels at once).

The canonical text of an answer is the JSON list of its labels in the order of the pool's ``labels``, so equal
sets give equal text; the empty list (no label applies) is a valid answer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from quality.types.base import AnswerProblem

DEFAULT_GOLDEN_SHARE = 1.0


def options_clean(raw: Mapping[str, Any]) -> dict[str, Any]:
    share = raw.get("golden_share", DEFAULT_GOLDEN_SHARE)
    if isinstance(share, bool) or not isinstance(share, int | float) or not math.isfinite(share):
        raise AnswerProblem(f"golden_share must be a number, got {share!r}")
    if not 0 < share <= 1:
        raise AnswerProblem(
            "golden_share must be more than 0 and at most 1 (how similar, as the Jaccard share of labels, "
            f"an answer must be to the golden answer to count as correct), got {share!r}"
        )
    return {"golden_share": float(share)}


def data_problem(data: Mapping[str, Any], *, options: Mapping[str, Any]) -> str | None:
    return None


def _example(labels: Sequence[str]) -> str:
    return "[] or " + json.dumps(list(labels[:2]), ensure_ascii=False) if labels else "[]"


def _canonical(raw: Any, *, labels: Sequence[str], what: str) -> str:
    if not isinstance(raw, list):
        raise AnswerProblem(f"the {what} must be a list of labels, e.g. {_example(labels)}; got {raw!r}")
    position = {label: i for i, label in enumerate(labels)}
    seen: set[str] = set()
    for label in raw:
        if not isinstance(label, str):
            raise AnswerProblem(f"the {what} must hold labels as text, got {label!r}")
        if label not in position:
            raise AnswerProblem(
                f"{label!r} in the {what} is not one of this pool's labels ({', '.join(labels)})"
            )
        if label in seen:
            raise AnswerProblem(f"{label!r} appears twice in the {what}; give each label at most once")
        seen.add(label)
    return json.dumps(sorted(raw, key=position.__getitem__), ensure_ascii=False, separators=(",", ":"))


def answer_parse(raw: Any, *, labels: Sequence[str], options: Mapping[str, Any]) -> str:
    return _canonical(raw, labels=labels, what="answer")


def golden_parse(raw: Any, *, labels: Sequence[str], options: Mapping[str, Any]) -> str:
    if isinstance(raw, str):  # a CSV cell holds the list as JSON text
        try:
            raw = json.loads(raw)
        except ValueError:
            raise AnswerProblem(
                f"the golden answer {raw!r} is not a JSON list of labels, e.g. {_example(labels)}"
            ) from None
    return _canonical(raw, labels=labels, what="golden answer")


def answer_value(text: str) -> Any:
    # orjson: a run decodes every answer of the pool (a million boxes answers took 6.5 s with json).
    return orjson.loads(text)


def label_studio_result(answer: Any) -> list[dict[str, Any]]:
    """The ticked labels as a <Choices name="answer" toName="task" choice="multiple"> result; none ticked is
    an annotation with an empty result, as Label Studio saves one."""
    if not answer:
        return []
    return [{"from_name": "answer", "to_name": "task", "type": "choices", "value": {"choices": list(answer)}}]
