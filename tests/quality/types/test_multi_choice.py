"""The multi_choice type: answer shapes, Jaccard golden scoring, binary-relevance Dawid-Skene aggregation.

No database. crowd-kit is imported only inside the test that uses it as a reference.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from quality.aggregation import aggregate as aggregate_labels
from quality.types.base import AnswerProblem, TypeAnswers, TypeResults
from quality.types.multi_choice import maths, shape

LABELS = ["Adult", "Counterfeit", "Drugs", "Weapons"]
OPTIONS = {"golden_share": 1.0}


def parse(raw: Any) -> str:
    return shape.answer_parse(raw, labels=LABELS, options=OPTIONS)


def run(
    answers: list[tuple[int, int, list[str]]],
    *,
    n_tasks: int,
    n_workers: int,
    golden: dict[int, list[str]] | None = None,
    labels: list[str] = LABELS,
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
        labels=labels,
        options=OPTIONS,
    )


# --- options ---------------------------------------------------------------------------------


def test_options_default_and_accepted_values() -> None:
    assert shape.options_clean({}) == {"golden_share": 1.0}
    assert shape.options_clean({"golden_share": 0.5}) == {"golden_share": 0.5}
    assert shape.options_clean({"golden_share": 1}) == {"golden_share": 1.0}


@pytest.mark.parametrize("value", [True, "0.5", None, [0.5], float("nan"), float("inf")])
def test_golden_share_must_be_a_number(value: Any) -> None:
    with pytest.raises(AnswerProblem, match="golden_share must be a number"):
        shape.options_clean({"golden_share": value})


@pytest.mark.parametrize("value", [0, 0.0, -0.2, 1.01, 2])
def test_golden_share_must_be_in_range(value: Any) -> None:
    with pytest.raises(AnswerProblem, match="golden_share must be more than 0 and at most 1"):
        shape.options_clean({"golden_share": value})


def test_data_is_not_checked() -> None:
    assert shape.data_problem({"url": "x"}, options=OPTIONS) is None


# --- answer shapes ---------------------------------------------------------------------------


def test_answer_is_stored_in_pool_label_order_and_reads_back() -> None:
    text = parse(["Drugs", "Adult"])
    assert text == '["Adult","Drugs"]'
    assert parse(["Adult", "Drugs"]) == text  # equal sets, equal text
    assert shape.answer_value(text) == ["Adult", "Drugs"]


def test_empty_answer_means_no_label_applies() -> None:
    assert parse([]) == "[]"
    assert shape.answer_value("[]") == []


def test_non_ascii_labels_are_stored_as_written() -> None:
    labels = ["Contrefaçon", "Arme"]
    text = shape.answer_parse(["Arme", "Contrefaçon"], labels=labels, options=OPTIONS)
    assert text == '["Contrefaçon","Arme"]'


@pytest.mark.parametrize("raw", ["Adult", {"Adult": True}, None, 3, ("Adult",)])
def test_answer_must_be_a_list(raw: Any) -> None:
    with pytest.raises(AnswerProblem, match=r"the answer must be a list of labels, e\.g\. \[\] or"):
        parse(raw)


@pytest.mark.parametrize("element", [1, None, ["Adult"], True])
def test_answer_labels_must_be_text(element: Any) -> None:
    with pytest.raises(AnswerProblem, match="the answer must hold labels as text"):
        parse(["Adult", element])


def test_answer_label_must_be_one_of_the_pool() -> None:
    with pytest.raises(
        AnswerProblem, match="'Spam' in the answer is not one of this pool's labels"
    ) as caught:
        parse(["Adult", "Spam"])
    assert "Adult, Counterfeit, Drugs, Weapons" in str(caught.value)


def test_answer_label_must_not_repeat() -> None:
    with pytest.raises(AnswerProblem, match="'Adult' appears twice in the answer"):
        parse(["Adult", "Drugs", "Adult"])


def test_golden_from_csv_is_json_text() -> None:
    golden = shape.golden_parse('["Weapons", "Adult"]', labels=LABELS, options=OPTIONS)
    assert golden == '["Adult","Weapons"]'
    assert shape.golden_parse("[]", labels=LABELS, options=OPTIONS) == "[]"
    assert shape.golden_parse(["Drugs"], labels=LABELS, options=OPTIONS) == '["Drugs"]'  # from JSONL


def test_golden_that_is_not_json_says_so() -> None:
    with pytest.raises(AnswerProblem, match=r"the golden answer 'Adult' is not a JSON list of labels"):
        shape.golden_parse("Adult", labels=LABELS, options=OPTIONS)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('"Adult"', "the golden answer must be a list of labels"),
        ('{"Adult": 1}', "the golden answer must be a list of labels"),
        ('["Spam"]', "'Spam' in the golden answer is not one of this pool's labels"),
        ('["Adult", "Adult"]', "'Adult' appears twice in the golden answer"),
        ("[1]", "the golden answer must hold labels as text"),
    ],
)
def test_bad_golden_answers(raw: str, message: str) -> None:
    with pytest.raises(AnswerProblem, match=message):
        shape.golden_parse(raw, labels=LABELS, options=OPTIONS)


# --- golden scoring --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "golden", "score"),
    [
        (["Adult", "Drugs"], ["Adult", "Drugs"], 1.0),
        (["Adult", "Drugs"], ["Adult"], 0.5),
        (["Adult", "Drugs"], ["Drugs", "Weapons"], 1 / 3),
        (["Adult"], ["Drugs"], 0.0),
        ([], ["Drugs"], 0.0),
        (["Drugs"], [], 0.0),
        ([], [], 1.0),
    ],
)
def test_golden_score_is_jaccard_similarity(answer: list[str], golden: list[str], score: float) -> None:
    assert maths.golden_score(answer, golden, options=OPTIONS) == pytest.approx(score)


def test_golden_correct_uses_golden_share() -> None:
    strict = shape.options_clean({})
    lenient = shape.options_clean({"golden_share": 0.5})
    assert maths.golden_correct(1.0, options=strict)
    assert not maths.golden_correct(0.75, options=strict)
    assert maths.golden_correct(0.5, options=lenient)  # at least the share counts
    assert not maths.golden_correct(1 / 3, options=lenient)


# --- aggregation on hand-made cases ----------------------------------------------------------


def test_agreeing_workers_give_their_set() -> None:
    result = run(
        [(0, w, ["Adult", "Drugs"]) for w in range(3)] + [(1, w, []) for w in range(3)],
        n_tasks=2,
        n_workers=3,
    )
    assert result.answers == [["Adult", "Drugs"], []]
    assert (result.confidence > 0.5).all()
    np.testing.assert_array_equal(result.worker_score, [1.0, 1.0, 1.0])


def test_golden_unanswered_and_answered_tasks() -> None:
    result = run(
        [(0, 0, ["Adult"]), (0, 1, ["Adult"]), (1, 0, ["Drugs"])],
        n_tasks=4,
        n_workers=3,
        golden={1: ["Weapons", "Adult"], 3: ["Counterfeit"]},
    )
    assert result.answers[1] == ["Adult", "Weapons"]  # pool label order
    assert result.answers[2] is None  # no answers, not golden
    assert result.answers[3] == ["Counterfeit"]  # golden without answers
    assert result.confidence[1] == 1.0
    assert result.confidence[2] == 0.0
    assert result.confidence[3] == 1.0
    assert result.label_confidence is not None
    # Golden tasks: 1 for their labels, 0 for the rest; a task nobody answered: 0 everywhere.
    np.testing.assert_array_equal(
        result.label_confidence[3], [float(label == "Counterfeit") for label in LABELS]
    )
    np.testing.assert_array_equal(result.label_confidence[2], np.zeros(len(LABELS)))
    # Worker 0: task 0 matches the result, task 1 ["Drugs"] against ["Adult", "Weapons"] shares nothing.
    assert result.worker_score[0] == pytest.approx(0.5)
    assert result.worker_score[2] == 0.0  # no answers


def test_confidence_is_the_product_of_per_label_certainties() -> None:
    rng = np.random.default_rng(5)
    answers = [
        (t, int(w), [label for label in LABELS if rng.random() < 0.4])
        for t in range(30)
        for w in rng.choice(8, 3, replace=False)
    ]
    result = run(answers, n_tasks=30, n_workers=8)
    task = np.array([a[0] for a in answers])
    worker = np.array([a[1] for a in answers])
    expected = np.ones(30)
    assert result.label_confidence is not None and result.label_confidence.shape == (30, len(LABELS))
    for j, label in enumerate(LABELS):
        per_label = aggregate_labels(
            method="ds",
            task_idx=task,
            worker_idx=worker,
            label_idx=np.array([label in a[2] for a in answers], dtype=np.int64),
            n_tasks=30,
            n_workers=8,
            n_labels=2,
        )
        expected *= per_label.confidence
        assert [label in chosen for chosen in result.answers] == (per_label.labels == 1).tolist()
        # Each label's own probability of belonging: that label's posterior, whichever side won.
        belongs = np.where(per_label.labels == 1, per_label.confidence, 1.0 - per_label.confidence)
        np.testing.assert_allclose(result.label_confidence[:, j], belongs, rtol=1e-12)
    np.testing.assert_allclose(result.confidence, expected, rtol=1e-12)
    assert result.confidence.min() < 0.9  # the case is not trivially certain


def test_an_even_split_counts_as_chosen() -> None:
    result = run([(0, 0, ["Adult"]), (0, 1, [])], n_tasks=1, n_workers=2)
    assert result.answers == [["Adult"]]
    assert result.confidence[0] == pytest.approx(0.5)


def test_golden_tasks_inform_worker_weights() -> None:
    # Worker 0 and worker 1 disagree on "Drugs" everywhere; the golden tasks show worker 0 is right.
    answers = []
    for t in range(20):
        answers += [(t, 0, ["Drugs"]), (t, 1, [])]
    without_gold = run(answers, n_tasks=20, n_workers=2)
    with_gold = run(answers, n_tasks=20, n_workers=2, golden={t: ["Drugs"] for t in range(10)})
    assert with_gold.answers[10:] == [["Drugs"]] * 10
    assert with_gold.worker_score[0] > with_gold.worker_score[1]
    # Without gold the same answers are an even split on "Drugs" in every task.
    assert without_gold.confidence.max() <= 0.5
    assert with_gold.confidence[10:].min() > 0.9


def test_labels_nobody_chose_and_empty_pool() -> None:
    result = run([(0, 0, []), (0, 1, [])], n_tasks=2, n_workers=2)
    assert result.answers == [[], None]
    empty = run([(0, 0, [])], n_tasks=1, n_workers=1, labels=[])
    assert empty.answers == [[]]
    assert empty.confidence[0] == 1.0


# --- aggregation on synthetic data with known truth ------------------------------------------


def synthetic(
    seed: int, *, n_tasks: int = 1500, n_workers: int = 120, overlap: int = 5
) -> tuple[list[tuple[int, int, list[str]]], np.ndarray]:
    """Labels present with their own prevalence; each worker flips each label with their own error rate
    (a fifth of the workers are near-random)."""
    rng = np.random.default_rng(seed)
    prevalence = np.array([0.35, 0.1, 0.2, 0.05])
    truth = rng.random((n_tasks, len(LABELS))) < prevalence
    accuracy = np.where(
        rng.random(n_workers) < 0.2, rng.uniform(0.45, 0.6, n_workers), rng.beta(8, 2, n_workers)
    )
    answers = []
    for t in range(n_tasks):
        for w in rng.choice(n_workers, overlap, replace=False):
            given = truth[t] ^ (rng.random(len(LABELS)) > accuracy[w])
            answers.append((t, int(w), [LABELS[j] for j in np.flatnonzero(given)]))
    return answers, truth


def membership(sets: list[Any]) -> np.ndarray:
    return np.array([[label in chosen for label in LABELS] for chosen in sets])


def test_per_label_accuracy_matches_crowdkit_binary_relevance() -> None:
    pd = pytest.importorskip("pandas")
    crowdkit = pytest.importorskip("crowdkit.aggregation")
    answers, truth = synthetic(11)
    ours = membership(run(answers, n_tasks=truth.shape[0], n_workers=120).answers)
    frame = pd.DataFrame(answers, columns=["task", "worker", "label"])
    predicted = crowdkit.BinaryRelevance(crowdkit.DawidSkene(n_iter=100)).fit_predict(frame)
    theirs = membership(predicted.reindex(range(truth.shape[0])).tolist())
    ours_accuracy = float((ours == truth).mean())
    theirs_accuracy = float((theirs == truth).mean())
    assert ours_accuracy >= theirs_accuracy - 0.005
    assert ours_accuracy > 0.95
    # Better than each label's majority of the five answers.
    answered = membership([a[2] for a in answers]).reshape(truth.shape[0], 5, len(LABELS))
    assert ours_accuracy > float(((answered.sum(axis=1) >= 3) == truth).mean())


def test_golden_tasks_keep_their_set_and_do_not_hurt() -> None:
    answers, truth = synthetic(12)
    n_tasks = truth.shape[0]
    gold = {t: [LABELS[j] for j in np.flatnonzero(truth[t])] for t in range(0, n_tasks, 10)}
    plain = membership(run(answers, n_tasks=n_tasks, n_workers=120).answers)
    seeded = run(answers, n_tasks=n_tasks, n_workers=120, golden=gold)
    chosen = membership(seeded.answers)
    rest = np.array([t not in gold for t in range(n_tasks)])
    assert (chosen[~rest] == truth[~rest]).all()
    assert (seeded.confidence[~rest] == 1.0).all()
    assert float((chosen[rest] == truth[rest]).mean()) >= float((plain[rest] == truth[rest]).mean()) - 0.005


def test_answer_order_does_not_change_the_output() -> None:
    answers, truth = synthetic(13, n_tasks=400, n_workers=40)
    # A worker answering a task twice with different sets, so ties in (task, worker) need breaking too.
    answers += [(0, answers[0][1], ["Weapons"]), (0, answers[0][1], ["Adult", "Drugs"])]
    gold = {t: [LABELS[j] for j in np.flatnonzero(truth[t])] for t in range(0, 400, 7)}
    reference = run(answers, n_tasks=400, n_workers=40, golden=gold)
    order = np.random.default_rng(3).permutation(len(answers))
    shuffled_gold = dict(reversed(list(gold.items())))
    shuffled = run([answers[i] for i in order], n_tasks=400, n_workers=40, golden=shuffled_gold)
    assert shuffled.answers == reference.answers
    np.testing.assert_array_equal(shuffled.confidence, reference.confidence)  # bit for bit
    np.testing.assert_array_equal(shuffled.worker_score, reference.worker_score)


def test_results_are_json_ready() -> None:
    result = run([(0, 0, ["Adult"]), (1, 0, [])], n_tasks=3, n_workers=1)
    assert json.loads(json.dumps(result.answers)) == result.answers
