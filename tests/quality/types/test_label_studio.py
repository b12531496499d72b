"""Each type's answer as a Label Studio annotation result (shape.label_studio_result), without a database."""

from __future__ import annotations

from typing import Any

import pytest

from quality.types import TYPES


@pytest.mark.parametrize(
    ("type_name", "answer", "result"),
    [
        ("single_choice", "Spam", [{"type": "choices", "value": {"choices": ["Spam"]}}]),
        (
            "multi_choice",
            ["Adult", "Counterfeit"],
            [{"type": "choices", "value": {"choices": ["Adult", "Counterfeit"]}}],
        ),
        ("multi_choice", [], []),
        ("text", "a blue bike", [{"type": "textarea", "value": {"text": ["a blue bike"]}}]),
        (
            "pairwise",
            "right",
            [{"type": "pairwise", "value": {"selected": "right"}, "to_name": ["left", "right"]}],
        ),
        ("pairwise", "tie", []),  # Label Studio's comparison has no tie
        (
            "boxes",
            [{"label": "Car", "x": 0.1, "y": 0.25, "w": 0.5, "h": 0.125}],
            [
                {
                    "type": "rectanglelabels",
                    "to_name": "image",
                    "value": {
                        "x": 10.0,
                        "y": 25.0,
                        "width": 50.0,
                        "height": 12.5,
                        "rotation": 0,
                        "rectanglelabels": ["Car"],
                    },
                }
            ],
        ),
    ],
)
def test_the_result_has_label_studios_shape(
    type_name: str, answer: Any, result: list[dict[str, Any]]
) -> None:
    produced = TYPES[type_name].label_studio_result(answer)
    assert len(produced) == len(result)
    for made, expected in zip(produced, result, strict=True):
        assert made["from_name"] == "answer"
        assert {key: made[key] for key in expected} == expected
