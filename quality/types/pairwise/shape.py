"""Which of two items is better: each task's data names a "left" and a "right" item, and a worker answers
"left", "right" or, where the pool allows it, "tie".

The canonical text of an answer is the choice itself. An item is any JSON value (a string, a number, an
object); it is known by ``item_key``, its JSON text with sorted keys, so the same item in several tasks is one
item in the ranking whatever the order of its object's keys, and the number 1 is not the string "1".
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from quality.types.base import AnswerProblem

SIDES: Final = ("left", "right")
TIE: Final = "tie"
MODELS: Final = ("bt", "noisy_bt")
DEFAULT_MODEL: Final = "bt"


def item_key(value: Any) -> str:
    """The item's identity across tasks."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def options_clean(raw: Mapping[str, Any]) -> dict[str, Any]:
    allow_tie = raw.get("allow_tie", False)
    if not isinstance(allow_tie, bool):
        raise AnswerProblem(f"allow_tie must be true or false, got {allow_tie!r}")
    model = raw.get("pairwise_model", DEFAULT_MODEL)
    if not isinstance(model, str) or model not in MODELS:
        raise AnswerProblem(
            "pairwise_model must be one of: bt (Bradley-Terry), noisy_bt (Bradley-Terry that also "
            f"estimates each worker's reliability and left/right bias); got {model!r}"
        )
    return {"allow_tie": allow_tie, "pairwise_model": model}


def data_problem(data: Mapping[str, Any], *, options: Mapping[str, Any]) -> str | None:
    for side in SIDES:
        value = data.get(side)
        # A CSV row with an empty cell carries "" rather than no value.
        if value is None or (isinstance(value, str) and not value.strip()):
            return f'the task data needs a "{side}" item (the {side} one of the two compared)'
    if item_key(data["left"]) == item_key(data["right"]):
        return '"left" and "right" are the same item; a task compares two different items'
    return None


def choices(options: Mapping[str, Any]) -> tuple[str, ...]:
    """The answers a pool takes."""
    return (*SIDES, TIE) if options["allow_tie"] else SIDES


def _choice(raw: Any, *, options: Mapping[str, Any], what: str) -> str:
    allowed = choices(options)
    if not isinstance(raw, str) or raw not in allowed:
        listed = ", ".join(f'"{choice}"' for choice in allowed)
        hint = "" if options["allow_tie"] or raw != TIE else " (this pool does not allow ties)"
        raise AnswerProblem(f"the {what} must be one of {listed}, got {raw!r}{hint}")
    return raw


def answer_parse(raw: Any, *, labels: Sequence[str], options: Mapping[str, Any]) -> str:
    return _choice(raw, options=options, what="answer")


def golden_parse(raw: Any, *, labels: Sequence[str], options: Mapping[str, Any]) -> str:
    if isinstance(raw, str) and raw.startswith('"'):  # a CSV cell may hold the choice as a JSON string
        with contextlib.suppress(ValueError):  # not JSON after all: reported as the text it is
            raw = json.loads(raw)
    return _choice(raw, options=options, what="golden answer")


def answer_value(text: str) -> Any:
    return text


def label_studio_result(answer: Any) -> list[dict[str, Any]]:
    """The side chosen as a <Pairwise name="answer" toName="left,right"> result. Label Studio's comparison
    has no tie: a tie is an annotation with an empty result."""
    if answer not in SIDES:
        return []
    return [
        {"from_name": "answer", "to_name": list(SIDES), "type": "pairwise", "value": {"selected": answer}}
    ]
