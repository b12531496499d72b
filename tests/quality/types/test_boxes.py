"""The boxes type: answer shapes, golden scoring by matched boxes, aggregation by clustering.

No database. crowd-kit has no aggregator for boxes, so the aggregation is tested against boxes jittered from a
known truth.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from django.http import QueryDict

from quality.types import boxes
from quality.types.base import AnswerProblem, TypeAnswers, TypeResults
from quality.types.boxes import maths, shape

LABELS = ["Car", "Person", "Dog"]
OPTIONS = shape.options_clean({})


def box(label: str, x: float, y: float, w: float, h: float) -> dict[str, Any]:
    return {"label": label, "x": x, "y": y, "w": w, "h": h}


def parse(raw: Any) -> str:
    return shape.answer_parse(raw, labels=LABELS, options=OPTIONS)


def score(answer: list[dict[str, Any]], golden: list[dict[str, Any]]) -> float:
    return maths.golden_score(answer, golden, options=OPTIONS)


def run(
    answers: list[tuple[int, int, list[dict[str, Any]]]],
    *,
    n_tasks: int,
    n_workers: int,
    golden: dict[int, list[dict[str, Any]]] | None = None,
) -> TypeResults:
    return maths.aggregate(
        TypeAnswers(
            task=np.array([a[0] for a in answers], dtype=np.int64),
            worker=np.array([a[1] for a in answers], dtype=np.int64),
            values=[a[2] for a in answers],
            n_tasks=n_tasks,
            n_workers=n_workers,
            golden=golden or {},
        ),
        labels=LABELS,
        options=OPTIONS,
    )


def without_confidence(result: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in b.items() if k != "confidence"} for b in result]


# --- options and task data -------------------------------------------------------------------


def test_options_default_and_accepted_values() -> None:
    assert OPTIONS == {"image_field": "image", "iou_threshold": 0.5, "golden_share": 1.0}
    assert shape.options_clean({"image_field": "photo_url", "iou_threshold": 0.7, "golden_share": 0.8}) == {
        "image_field": "photo_url",
        "iou_threshold": 0.7,
        "golden_share": 0.8,
    }


@pytest.mark.parametrize(
    ("raw", "phrase"),
    [
        ({"image_field": ""}, "image_field must be the name of the task data field"),
        ({"image_field": "photo url"}, "image_field must be the name"),
        ({"image_field": 3}, "image_field must be the name"),
        ({"iou_threshold": 0}, "iou_threshold must be more than 0 and less than 1"),
        ({"iou_threshold": 1}, "iou_threshold must be more than 0 and less than 1"),
        ({"iou_threshold": "0.5"}, "iou_threshold must be a number"),
        ({"iou_threshold": True}, "iou_threshold must be a number"),
        ({"golden_share": 0}, "golden_share must be more than 0 and at most 1"),
        ({"golden_share": 1.5}, "golden_share must be more than 0 and at most 1"),
        ({"golden_share": 10**400}, "golden_share must be a number"),
    ],
)
def test_bad_options_say_what_is_wrong(raw: dict[str, Any], phrase: str) -> None:
    with pytest.raises(AnswerProblem, match=phrase):
        shape.options_clean(raw)


def test_a_task_needs_an_http_image_url_in_its_image_field() -> None:
    assert shape.data_problem({"image": "https://cdn.example.com/a.jpg"}, options=OPTIONS) is None
    assert shape.data_problem({"image": "http://example.com/a.png?size=2"}, options=OPTIONS) is None
    assert (
        shape.data_problem({"image": "https://x.org/a.jpg", "width": 640, "height": "480"}, options=OPTIONS)
        is None
    )
    photo = shape.options_clean({"image_field": "photo"})
    assert shape.data_problem({"photo": "https://x.org/a.jpg"}, options=photo) is None
    assert shape.data_problem({"image": "https://x.org/a.jpg"}, options=photo) == (
        "the task data has no 'photo' field (the URL of the image to draw boxes on)"
    )


@pytest.mark.parametrize(
    ("data", "phrase"),
    [
        ({"url": "https://x.org/a.jpg"}, "the task data has no 'image' field"),
        ({"image": 5}, "must be the image's http(s) URL as text, got 5"),
        ({"image": None}, "must be the image's http(s) URL as text"),
        (
            {"image": "ftp://x.org/a.jpg"},
            "must be an http:// or https:// URL of the image, got 'ftp://x.org/a.jpg'",
        ),
        ({"image": "javascript:alert(1)"}, "must be an http:// or https:// URL"),
        ({"image": "x.org/a.jpg"}, "must be an http:// or https:// URL"),
        ({"image": "https://"}, "must be an http:// or https:// URL"),
        ({"image": "https://x.org/a b.jpg"}, "must be an http:// or https:// URL"),
        ({"image": "ftp://x.org/" + "a" * 500}, "aaa..."),
        ({"image": "https://x.org/a.jpg", "width": 640}, "has 'width' but no 'height'"),
        (
            {"image": "https://x.org/a.jpg", "width": 0, "height": 480},
            "'width' field must be the image's width in",
        ),
        (
            {"image": "https://x.org/a.jpg", "width": 640, "height": 4.5},
            "'height' field must be the image's height",
        ),
        (
            {"image": "https://x.org/a.jpg", "width": "wide", "height": 480},
            "a whole number above 0, got 'wide'",
        ),
        ({"image": "https://x.org/a.jpg", "width": True, "height": 480}, "a whole number above 0, got True"),
    ],
)
def test_a_task_without_a_usable_image_is_refused(data: dict[str, Any], phrase: str) -> None:
    problem = shape.data_problem(data, options=OPTIONS)
    assert problem is not None and phrase in problem
    assert len(problem) < 300


def test_pixel_sizes_read_from_numbers_or_csv_text() -> None:
    assert shape.pixels(640) == 640
    assert shape.pixels(" 480 ") == 480
    assert [shape.pixels(v) for v in (0, -3, 4.0, "4.5", "", None, False, 10**12)] == [None] * 8


# --- answer shapes ---------------------------------------------------------------------------


def test_answer_keeps_the_order_drawn_rounds_and_reads_back() -> None:
    text = parse([box("Dog", 0.5, 0.5, 0.25, 0.25), box("Car", 0.1234567891, 0, 1 / 3, 1)])
    assert json.loads(text) == [
        box("Dog", 0.5, 0.5, 0.25, 0.25),
        box("Car", 0.123457, 0.0, 0.333333, 1.0),
    ]
    assert shape.answer_value(text) == json.loads(text)
    assert parse(json.loads(text)) == text  # canonical text is a fixed point
    assert parse([]) == "[]"


def test_a_box_touching_the_far_edge_by_a_float_sum_is_kept_inside() -> None:
    (kept,) = json.loads(parse([box("Car", 0.7, 0.1, 0.30000000000000004, 0.9)]))
    assert kept["x"] + kept["w"] <= 1.0 and kept["w"] == 0.3
    # Rounded alone, x and w would each go up and end past the edge: w gives way.
    (rounded,) = json.loads(parse([box("Car", 0.2308665, 0.0, 0.7691335, 0.5)]))
    assert rounded["x"] + rounded["w"] <= 1.0


@pytest.mark.parametrize(
    ("raw", "phrase"),
    [
        (box("Car", 0.1, 0.1, 0.2, 0.2), "the answer must be a list of boxes, e.g. []"),
        ("[]", "the answer must be a list of boxes"),
        (None, "the answer must be a list of boxes"),
        ([box("Car", 0.1, 0.1, 0.2, 0.2)] * 101, "the answer has 101 boxes; at most 100 are allowed"),
        (
            [box("Car", 0, 0, 1, 1), 7],
            "box 2 of the answer must be an object with label, x, y, w and h; got 7",
        ),
        ([{"label": "Car", "x": 0.1, "y": 0.1, "w": 0.2}], "box 1 of the answer has no h"),
        ([{"x": 0.1, "y": 0.1}], "box 1 of the answer has no label, w, h"),
        ([{**box("Car", 0.1, 0.1, 0.2, 0.2), "score": 1, "id": 2}], "has unknown keys id, score"),
        (
            [box("Truck", 0.1, 0.1, 0.2, 0.2)],
            "label 'Truck' is not one of this pool's labels (Car, Person, Dog)",
        ),
        ([box("car", 0.1, 0.1, 0.2, 0.2)], "label 'car' is not one of this pool's labels"),
        ([{**box("Car", 0.1, 0.1, 0.2, 0.2), "label": 1}], "label 1 is not one of this pool's labels"),
        ([box("Car", -0.01, 0.1, 0.2, 0.2)], "x must be at least 0 (the box leaves the image), got -0.01"),
        ([box("Car", 0.1, -0.5, 0.2, 0.2)], "y must be at least 0"),
        ([box("Car", 0.9, 0.1, 0.2, 0.2)], "x + w must be at most 1 (the box leaves the image on its width)"),
        (
            [box("Car", 0.1, 0.5, 0.2, 0.6)],
            "y + h must be at most 1 (the box leaves the image on its height)",
        ),
        ([box("Car", 1.5, 0.1, 0.2, 0.2)], "x + w must be at most 1"),
        ([box("Car", 0.1, 0.1, 0, 0.2)], "w must be more than 0, got 0"),
        ([box("Car", 0.1, 0.1, 0.2, -0.2)], "h must be more than 0, got -0.2"),
        ([box("Car", 0.1, 0.1, 1e-7, 0.2)], "too small: w and h must be at least 0.000001"),
        ([box("Car", "0.1", 0.1, 0.2, 0.2)], "x must be a number (a fraction of the image), got '0.1'"),
        ([box("Car", 0.1, True, 0.2, 0.2)], "y must be a number"),
        ([box("Car", 0.1, 0.1, float("nan"), 0.2)], "w must be a number"),
        ([box("Car", 0.1, 0.1, 0.2, float("inf"))], "h must be a number"),
        ([box("Car", 10**400, 0.1, 0.2, 0.2)], "x must be a number"),
        ([box("Car", 0.1, 0.1, 0.2, None)], "h must be a number"),
    ],
)
def test_bad_answers_say_what_is_wrong(raw: Any, phrase: str) -> None:
    with pytest.raises(AnswerProblem) as refused:
        parse(raw)
    assert phrase in str(refused.value)
    assert len(str(refused.value)) < 400


def test_a_long_bad_answer_is_quoted_short() -> None:
    with pytest.raises(AnswerProblem) as refused:
        parse({"label": "x" * 10_000})
    assert str(refused.value).endswith("...") and len(str(refused.value)) < 300


def test_golden_answers_come_as_lists_or_json_text() -> None:
    wanted = parse([box("Car", 0.1, 0.2, 0.3, 0.4)])
    golden = shape.golden_parse(
        '[{"label":"Car","x":0.1,"y":0.2,"w":0.3,"h":0.4}]', labels=LABELS, options=OPTIONS
    )
    assert golden == wanted
    assert shape.golden_parse([], labels=LABELS, options=OPTIONS) == "[]"
    with pytest.raises(AnswerProblem, match="is not a JSON list of boxes"):
        shape.golden_parse("Car at the top", labels=LABELS, options=OPTIONS)
    with pytest.raises(AnswerProblem, match="box 1 of the golden answer: label 'Bus'"):
        shape.golden_parse([box("Bus", 0.1, 0.2, 0.3, 0.4)], labels=LABELS, options=OPTIONS)


def test_the_annotator_form_posts_the_boxes_as_json_text() -> None:
    def form_answer(**fields: str) -> Any:
        query = QueryDict(mutable=True)
        query.update(fields)
        return boxes.TYPE.form_answer(query)

    drawn = [box("Car", 0.1, 0.2, 0.3, 0.4)]
    assert form_answer(answer=json.dumps(drawn)) == drawn
    assert form_answer(answer="[]") == []
    with pytest.raises(AnswerProblem, match=r"must be a list of boxes, e.g. .*; got 'Car'"):
        parse(form_answer(answer="Car"))
    with pytest.raises(AnswerProblem, match="must be a list of boxes"):
        parse(form_answer())
    assert boxes.TYPE.annotator_fields({"image_field": "photo"}) == ("photo",)


# --- golden scoring --------------------------------------------------------------------------


def test_golden_score_is_f1_of_boxes_matched_by_iou_and_label() -> None:
    golden = [box("Car", 0.1, 0.1, 0.4, 0.4), box("Dog", 0.6, 0.6, 0.3, 0.3)]
    assert score(golden, golden) == 1.0
    assert score(list(reversed(golden)), golden) == 1.0
    assert score([], []) == 1.0
    assert score([], golden) == 0.0
    assert score(golden, []) == 0.0
    # IoU of two 0.4-wide boxes shifted by d is (0.4 - d) / (0.4 + d): 0.6 at d = 0.1, 1/3 at d = 0.2.
    assert score([box("Car", 0.2, 0.1, 0.4, 0.4)], golden[:1]) == 1.0
    assert score([box("Car", 0.3, 0.1, 0.4, 0.4)], golden[:1]) == 0.0
    # A perfect box with the wrong label is no match.
    assert score([box("Person", 0.1, 0.1, 0.4, 0.4)], golden[:1]) == 0.0
    # Precision 2/3, recall 1: F1 = 2 * 2 / (3 + 2).
    spurious = [*golden, box("Person", 0.0, 0.7, 0.1, 0.1)]
    assert score(spurious, golden) == pytest.approx(0.8)
    # One box cannot match two: two answers on one object, one match; F1 = 2 * 1 / (2 + 1).
    assert score([golden[0], box("Car", 0.12, 0.1, 0.4, 0.4)], golden[:1]) == pytest.approx(2 / 3)


def test_iou_threshold_at_its_edge_counts_as_a_match() -> None:
    # The threshold is "at least": half the golden box's width over its full height is IoU 0.5 exactly.
    golden = [box("Car", 0.0, 0.0, 0.5, 1.0)]
    assert score([box("Car", 0.0, 0.0, 0.25, 1.0)], golden) == 1.0
    assert score([box("Car", 0.0, 0.0, 0.249, 1.0)], golden) == 0.0


# Boxes spanning the image's height, placed along x: IoU is the overlap of the intervals over their union.
# a1 overlaps g1 (IoU 0.667) and g2 (0.538); a2 overlaps only g1 (0.6). Taking the best pair first matches
# a1-g1 and leaves a2 alone; one-to-one matching pairs a1-g2 and a2-g1.
G1, G2 = box("Car", 0.1, 0.0, 0.4, 1.0), box("Car", 0.3, 0.0, 0.4, 1.0)
A1, A2 = box("Car", 0.18, 0.0, 0.4, 1.0), box("Car", 0.0, 0.0, 0.4, 1.0)


def test_golden_matching_finds_the_most_pairs_not_the_greedy_ones() -> None:
    assert score([A1, A2], [G1, G2]) == 1.0
    assert score([A2, A1], [G2, G1]) == 1.0


def test_golden_correct_uses_the_pool_share() -> None:
    assert maths.golden_correct(1.0, options=OPTIONS)
    assert not maths.golden_correct(0.8, options=OPTIONS)
    assert maths.golden_correct(0.8, options={**OPTIONS, "golden_share": 0.8})


# --- aggregation: small cases worked by hand -------------------------------------------------


def test_kept_boxes_carry_the_share_of_workers_who_drew_them() -> None:
    a, b, c = (
        box("Car", 0.1, 0.1, 0.2, 0.2),
        box("Dog", 0.5, 0.5, 0.2, 0.2),
        box("Person", 0.7, 0.1, 0.2, 0.3),
    )
    answers = [
        (0, 0, [a, b, c]),
        (0, 1, [a, c]),
        (0, 2, [a, b, c]),
        (0, 3, [a]),
        (0, 4, []),
    ]
    result = run(answers, n_tasks=1, n_workers=5)
    # a: 4 of 5 workers; c: 3 of 5; b: 2 of 5, fewer than half, dropped.
    assert result.answers[0] == [{**a, "confidence": 0.8}, {**c, "confidence": 0.6}]
    # Agreement with each decision: a 0.8, c 0.6, b left out as 3 of 5 did.
    assert result.confidence[0] == pytest.approx((0.8 + 0.6 + 0.6) / 3)


def test_a_box_drawn_by_exactly_half_is_kept_and_by_fewer_dropped() -> None:
    a, b = box("Car", 0.1, 0.1, 0.2, 0.2), box("Car", 0.6, 0.6, 0.2, 0.2)
    result = run([(0, 0, [a, b]), (0, 1, [a, b]), (0, 2, [a]), (0, 3, [])], n_tasks=1, n_workers=4)
    assert result.answers[0] == [{**a, "confidence": 0.75}, {**b, "confidence": 0.5}]
    result = run([(0, 0, [a, b]), (0, 1, [a]), (0, 2, [a]), (0, 3, [])], n_tasks=1, n_workers=4)
    assert result.answers[0] == [{**a, "confidence": 0.75}]


def test_boxes_of_different_labels_are_different_objects() -> None:
    car, dog = box("Car", 0.1, 0.1, 0.4, 0.4), box("Dog", 0.1, 0.1, 0.4, 0.4)
    result = run([(0, 0, [car]), (0, 1, [car]), (0, 2, [dog])], n_tasks=1, n_workers=3)
    assert without_confidence(result.answers[0]) == [car]


def test_coordinates_are_the_skill_weighted_mean() -> None:
    # Worker 0 matches three golden tasks, worker 1 none: skills (3 + 1) / 5 = 0.8 and 1 / 5 = 0.2.
    truth = box("Car", 0.1, 0.1, 0.4, 0.4)
    golden = {t: [truth] for t in range(3)}
    answers = [(t, 0, [truth]) for t in range(3)] + [
        (t, 1, [box("Dog", 0.1, 0.1, 0.4, 0.4)]) for t in range(3)
    ]
    answers += [(3, 0, [box("Car", 0.2, 0.2, 0.4, 0.4)]), (3, 1, [box("Car", 0.25, 0.25, 0.4, 0.4)])]
    result = run(answers, n_tasks=4, n_workers=2, golden=golden)
    (kept,) = result.answers[3]
    assert kept["x"] == pytest.approx(0.8 * 0.2 + 0.2 * 0.25) and kept["y"] == kept["x"]
    assert kept["w"] == pytest.approx(0.4) and kept["confidence"] == 1.0
    assert result.worker_score[0] == 1.0 and result.worker_score[1] == pytest.approx(1 / 4)


def test_a_chain_through_two_boxes_of_one_worker_is_split() -> None:
    # Worker 0 boxes two overlapping cars; worker 1 one box that reaches both (IoU 0.63 and 0.57). Grouping
    # by links alone would make one object drawn 1.5 times per worker; the box goes with its nearer car.
    left, right, between = (
        box("Car", 0.0, 0.0, 0.4, 1.0),
        box("Car", 0.2, 0.0, 0.4, 1.0),
        box("Car", 0.09, 0.0, 0.4, 1.0),
    )
    result = run([(0, 0, [left, right]), (0, 1, [between])], n_tasks=1, n_workers=2)
    assert [round(b["x"], 6) for b in result.answers[0]] == [0.045, 0.2]
    assert [b["confidence"] for b in result.answers[0]] == [1.0, 0.5]


def test_golden_tasks_return_their_golden_boxes() -> None:
    truth = [box("Car", 0.1, 0.1, 0.2, 0.2)]
    drawn = [box("Dog", 0.5, 0.5, 0.2, 0.2)]
    result = run([(0, w, drawn) for w in range(3)], n_tasks=2, n_workers=3, golden={0: truth, 1: []})
    assert result.answers == [[{**truth[0], "confidence": 1.0}], []]
    assert result.confidence.tolist() == [1.0, 1.0]
    assert result.worker_score.tolist() == [0.0, 0.0, 0.0]


def test_tasks_without_boxes_or_answers() -> None:
    result = run([(0, 0, []), (0, 1, []), (2, 0, [box("Car", 0.1, 0.1, 0.2, 0.2)])], n_tasks=3, n_workers=2)
    assert result.answers[0] == [] and result.confidence[0] == 1.0
    assert result.answers[1] is None and result.confidence[1] == 0.0
    assert result.answers[2] == [{**box("Car", 0.1, 0.1, 0.2, 0.2), "confidence": 1.0}]
    empty = run([], n_tasks=2, n_workers=0)
    assert empty.answers == [None, None] and empty.confidence.tolist() == [0.0, 0.0]


def test_hungarian_matching_is_used_for_worker_scores_too() -> None:
    result = run([(0, 0, [A1, A2])], n_tasks=1, n_workers=1, golden={0: [G1, G2]})
    assert result.worker_score[0] == 1.0


# --- aggregation on boxes jittered from a known truth ----------------------------------------


def _iou(a: dict[str, Any], b: dict[str, Any]) -> float:
    w = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
    h = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
    inter = max(w, 0.0) * max(h, 0.0)
    return inter / (a["w"] * a["h"] + b["w"] * b["h"] - inter)


def _best_ious(found: Any, truth: list[list[dict[str, Any]]], tasks: list[int]) -> list[float]:
    """For each true object, the IoU of the closest found box of its label, where there is one."""
    return [
        max(_iou(b, true) for b in found[t] if b["label"] == true["label"])
        for t in tasks
        for true in truth[t]
        if any(b["label"] == true["label"] for b in found[t])
    ]


def _random_box(rng: np.random.Generator) -> dict[str, Any]:
    w, h = rng.uniform(0.08, 0.3, 2)
    return box(
        LABELS[int(rng.integers(3))],
        float(rng.uniform(0, 1 - w)),
        float(rng.uniform(0, 1 - h)),
        float(w),
        float(h),
    )


def _scene(rng: np.random.Generator) -> list[dict[str, Any]]:
    """1 to 5 objects that overlap each other little, as on most photos."""
    objects: list[dict[str, Any]] = []
    wanted = int(rng.integers(1, 6))
    while len(objects) < wanted:
        candidate = _random_box(rng)
        if all(_iou(candidate, other) < 0.1 for other in objects):
            objects.append(candidate)
    return objects


def _drawn(truth: dict[str, Any], rng: np.random.Generator, *, jitter: float) -> dict[str, Any]:
    """A worker's box around a true object: each edge moved by a share of the box's size, kept in the image."""
    x1 = truth["x"] + rng.normal(0, jitter) * truth["w"]
    x2 = truth["x"] + truth["w"] + rng.normal(0, jitter) * truth["w"]
    y1 = truth["y"] + rng.normal(0, jitter) * truth["h"]
    y2 = truth["y"] + truth["h"] + rng.normal(0, jitter) * truth["h"]
    x1, y1 = max(x1, 0.0), max(y1, 0.0)
    x2, y2 = min(x2, 1.0), min(y2, 1.0)
    return json.loads(parse([box(truth["label"], x1, y1, x2 - x1, y2 - y1)]))[0]


def _crowd(
    seed: int, *, n_images: int = 500, n_golden: int = 50
) -> tuple[list[tuple[int, int, list[dict[str, Any]]]], list[list[dict[str, Any]]], dict[int, Any]]:
    """Five workers per image: four careful ones (edges off by 5% of the box, one box in 20 missed, a
    spurious box on one image in 10), and worker 4, who draws 1 to 3 boxes anywhere with any label.
    The first n_golden images are golden."""
    rng = np.random.default_rng(seed)
    truth = [_scene(rng) for _ in range(n_images)]
    answers = []
    for t, objects in enumerate(truth):
        for w in range(4):
            drawn = [_drawn(o, rng, jitter=0.05) for o in objects if rng.random() >= 1 / 20]
            if rng.random() < 0.1:
                drawn.append(json.loads(parse([_random_box(rng)]))[0])
            order = rng.permutation(len(drawn))
            answers.append((t, w, [drawn[i] for i in order]))
        answers.append((t, 4, json.loads(parse([_random_box(rng) for _ in range(int(rng.integers(1, 4)))]))))
    golden = {t: json.loads(parse(truth[t])) for t in range(n_golden)}
    return answers, truth, golden


@pytest.fixture(scope="module")
def crowd() -> tuple[
    list[tuple[int, int, list[dict[str, Any]]]], list[list[dict[str, Any]]], dict[int, Any], TypeResults
]:
    answers, truth, golden = _crowd(7)
    return answers, truth, golden, run(answers, n_tasks=len(truth), n_workers=5, golden=golden)


def test_recovered_boxes_match_the_truth(crowd: Any) -> None:
    answers, truth, golden, result = crowd
    regular = [t for t in range(len(truth)) if t not in golden]
    f1 = [score(without_confidence(result.answers[t]), truth[t]) for t in regular]
    assert np.mean(f1) >= 0.98
    assert sum(value == 1.0 for value in f1) >= 0.92 * len(regular)
    # Each true object is in the result exactly when at least 3 of the 5 workers drew it (IoU 0.5, same label).
    kept_as_drawn = []
    for t in regular:
        drawn_by = [a[2] for a in answers if a[0] == t]
        for true in truth[t]:
            workers = sum(any(score([b], [true]) == 1.0 for b in drawn) for drawn in drawn_by)
            found = any(score([b], [true]) == 1.0 for b in without_confidence(result.answers[t]))
            kept_as_drawn.append(found == (workers >= 3))
    assert np.mean(kept_as_drawn) >= 0.995
    # Averaging four careful workers, each edge 5% of the box off, halves the error of one of them.
    ious, alone_ious = (
        _best_ious(result.answers, truth, regular),
        _best_ious({a[0]: a[2] for a in answers if a[1] == 0}, truth, regular),
    )
    assert np.mean(ious) >= 0.9 and 1 - np.mean(ious) < 0.6 * (1 - np.mean(alone_ious))
    # One careful worker alone misses and adds boxes several times as often.
    alone = [score(a[2], truth[a[0]]) for a in answers if a[1] == 0 and a[0] not in golden]
    assert 1 - np.mean(f1) < 0.3 * (1 - np.mean(alone))


def test_every_result_box_is_a_valid_answer_with_its_share_of_workers(crowd: Any) -> None:
    _, truth, golden, result = crowd
    for t in range(len(truth)):
        boxes_found = result.answers[t]
        assert json.loads(parse(without_confidence(boxes_found))) == without_confidence(boxes_found)
        shares = [b["confidence"] for b in boxes_found]
        if t in golden:
            assert shares == [1.0] * len(boxes_found)
        else:
            assert all(s in (0.6, 0.8, 1.0) for s in shares), shares


def test_the_careless_worker_scores_lowest(crowd: Any) -> None:
    *_, result = crowd
    careful, careless = result.worker_score[:4], result.worker_score[4]
    assert careful.min() >= 0.85 and careless <= 0.2


def test_golden_tasks_get_their_golden_boxes(crowd: Any) -> None:
    _, _, golden, result = crowd
    for t, boxes_ in golden.items():
        assert result.answers[t] == [{**b, "confidence": 1.0} for b in boxes_]
        assert result.confidence[t] == 1.0


def test_confident_tasks_are_the_right_ones(crowd: Any) -> None:
    _, truth, golden, result = crowd
    regular = [t for t in range(len(truth)) if t not in golden]
    right = np.array([score(without_confidence(result.answers[t]), truth[t]) == 1.0 for t in regular])
    confidence = result.confidence[regular]
    assert confidence[right].mean() > confidence[~right].mean()


def test_shuffled_input_gives_identical_output(crowd: Any) -> None:
    answers, truth, golden, result = crowd
    rng = np.random.default_rng(11)
    shuffled = [answers[i] for i in rng.permutation(len(answers))]
    golden_shuffled = {t: golden[t] for t in rng.permutation(list(golden)).tolist()}
    again = run(shuffled, n_tasks=len(truth), n_workers=5, golden=golden_shuffled)
    assert again.answers == result.answers
    assert np.array_equal(again.confidence, result.confidence)
    assert np.array_equal(again.worker_score, result.worker_score)
