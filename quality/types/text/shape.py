"""A short text typed by the worker (a transcription, a correction, a caption).

The canonical text of an answer is the worker's string with leading and trailing whitespace removed; inside
it nothing is changed, so what is stored is what the worker typed. Comparisons (golden scoring, agreement)
normalise case, punctuation and whitespace on the way (quality/types/text/maths.normalise).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from quality.types.base import AnswerProblem

MAX_LENGTH_LIMIT: Final = 10_000
DEFAULTS: Final[Mapping[str, Any]] = {
    "max_length": 500,
    "golden_similarity": 1.0,
    "text_aggregation": "auto",
}
AGGREGATIONS: Final = ("auto", "rover", "closest")


def options_clean(raw: Mapping[str, Any]) -> dict[str, Any]:
    options = {**DEFAULTS, **raw}
    max_length = options["max_length"]
    if isinstance(max_length, bool) or not isinstance(max_length, int):
        raise AnswerProblem(f"max_length must be a whole number of characters, got {max_length!r}")
    if not 1 <= max_length <= MAX_LENGTH_LIMIT:
        raise AnswerProblem(f"max_length must be from 1 to {MAX_LENGTH_LIMIT} characters, got {max_length}")
    share = options["golden_similarity"]
    if isinstance(share, bool) or not isinstance(share, int | float) or not math.isfinite(share):
        raise AnswerProblem(f"golden_similarity must be a number, got {share!r}")
    if not 0 < share <= 1:
        raise AnswerProblem(
            "golden_similarity must be more than 0 and at most 1 (how similar an answer must be to the golden "
            f"answer to count as correct; 1 means equal but for case, punctuation and spaces), got {share!r}"
        )
    method = options["text_aggregation"]
    if method not in AGGREGATIONS:
        raise AnswerProblem(f"text_aggregation must be one of {', '.join(AGGREGATIONS)}, got {method!r}")
    return {"max_length": max_length, "golden_similarity": float(share), "text_aggregation": method}


def data_problem(data: Mapping[str, Any], *, options: Mapping[str, Any]) -> str | None:
    return None


def _canonical(raw: Any, *, options: Mapping[str, Any], what: str) -> str:
    if not isinstance(raw, str):
        raise AnswerProblem(f"the {what} must be text, got {raw!r}")
    text = raw.strip()
    if not text:
        raise AnswerProblem(f"the {what} is empty; type the text")
    limit = int(options["max_length"])
    if len(text) > limit:
        raise AnswerProblem(f"the {what} must be at most {limit} characters long, got {len(text)}")
    # The database stores UTF-8 text without NUL characters; either would fail there instead of here.
    if "\x00" in text:
        raise AnswerProblem(f"the {what} must not hold a NUL character (\\u0000)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise AnswerProblem(f"the {what} holds a broken character (an unpaired UTF-16 surrogate)") from None
    return text


def answer_parse(raw: Any, *, labels: Sequence[str], options: Mapping[str, Any]) -> str:
    return _canonical(raw, options=options, what="answer")


def golden_parse(raw: Any, *, labels: Sequence[str], options: Mapping[str, Any]) -> str:
    # A CSV cell is the text itself (not JSON), as is a JSON string in JSONL.
    return _canonical(raw, options=options, what="golden answer")


def answer_value(text: str) -> Any:
    return text


def label_studio_result(answer: Any) -> list[dict[str, Any]]:
    """The text as a <TextArea name="answer" toName="task"> result."""
    return [{"from_name": "answer", "to_name": "task", "type": "textarea", "value": {"text": [answer]}}]
