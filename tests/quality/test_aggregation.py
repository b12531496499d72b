"""The aggregation maths of quality/aggregation.py: small hand-checked cases, a real data set, invariants.

No database. crowd-kit is imported only inside the tests that use it as a reference.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quality import aggregation
from quality.aggregation import (
    DEFAULT_METHOD,
    METHODS,
    AggregationResult,
    aggregate,
    encode_answers,
    skill_smoothed,
)
from tests.datasets import dataset_folder

REPO_ROOT = Path(__file__).resolve().parents[2]


def run(
    method: str,
    answers: list[tuple[int, int, int]],
    *,
    n_tasks: int,
    n_workers: int,
    n_labels: int,
    gold: dict[int, int] | None = None,
) -> AggregationResult:
    task, worker, label = (np.array(column, dtype=np.int64) for column in zip(*answers, strict=True))
    gold = gold or {}
    return aggregate(
        method=method,
        task_idx=task,
        worker_idx=worker,
        label_idx=label,
        n_tasks=n_tasks,
        n_workers=n_workers,
        n_labels=n_labels,
        gold_task_idx=np.array(list(gold), dtype=np.int64) if gold else None,
        gold_label_idx=np.array(list(gold.values()), dtype=np.int64) if gold else None,
    )


def test_method_names() -> None:
    assert METHODS == ("ds", "mv", "wawa")
    assert DEFAULT_METHOD == "ds"


def test_skill_smoothed() -> None:
    assert skill_smoothed(correct=0, answered=0) == 0.5
    assert skill_smoothed(correct=3, answered=3) == 0.8
    assert skill_smoothed(correct=0, answered=8) == 0.1
    with pytest.raises(ValueError, match="correct"):
        skill_smoothed(correct=4, answered=3)
    with pytest.raises(ValueError):
        skill_smoothed(correct=-1, answered=3)


# --- small cases known by hand ---------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_unanimous_answers(method: str) -> None:
    # Task 0: three workers say 2. Task 1: three workers say 0.
    answers = [(0, 0, 2), (0, 1, 2), (0, 2, 2), (1, 0, 0), (1, 1, 0), (1, 2, 0)]
    result = run(method, answers, n_tasks=2, n_workers=3, n_labels=3)
    assert result.labels.tolist() == [2, 0]
    assert result.answers.tolist() == [3, 3]
    assert result.confidence.min() > 0.99
    assert result.labels.dtype == np.int64
    assert result.confidence.dtype == np.float64
    assert result.answers.dtype == np.int64
    if method == "mv":
        assert result.confidence.tolist() == [1.0, 1.0]


def test_majority_vote_counts_and_confidence() -> None:
    # Task 0: 2 of 3 say 1. Task 1: 3 of 4 say 0.
    answers = [(0, 0, 1), (0, 1, 1), (0, 2, 0), (1, 0, 0), (1, 1, 0), (1, 2, 0), (1, 3, 1)]
    result = run("mv", answers, n_tasks=2, n_workers=4, n_labels=2)
    assert result.labels.tolist() == [1, 0]
    assert result.confidence.tolist() == pytest.approx([2 / 3, 3 / 4])
    assert result.answers.tolist() == [3, 4]
    assert result.iterations == 0


@pytest.mark.parametrize("method", METHODS)
def test_tie_goes_to_the_lowest_label_index(method: str) -> None:
    # Two equally reliable workers disagree on both tasks, symmetrically: every method sees a tie.
    answers = [(0, 0, 2), (0, 1, 1), (1, 0, 1), (1, 1, 2)]
    result = run(method, answers, n_tasks=2, n_workers=2, n_labels=3)
    assert result.labels.tolist() == [1, 1]
    assert result.confidence[0] == result.confidence[1]
    assert result.confidence[0] <= 0.5


def test_majority_vote_tie_does_not_depend_on_answer_order() -> None:
    forward = run("mv", [(0, 0, 3), (0, 1, 0)], n_tasks=1, n_workers=2, n_labels=4)
    backward = run("mv", [(0, 1, 0), (0, 0, 3)], n_tasks=1, n_workers=2, n_labels=4)
    assert forward.labels.tolist() == backward.labels.tolist() == [0]
    assert forward.confidence.tolist() == [0.5]


@pytest.mark.parametrize("method", METHODS)
def test_gold_is_clamped(method: str) -> None:
    # Everybody says 0 on task 0, but its gold label is 1; task 2 is golden with no answers.
    answers = [(0, 0, 0), (0, 1, 0), (0, 2, 0), (1, 0, 1), (1, 1, 1), (1, 2, 0)]
    result = run(method, answers, n_tasks=3, n_workers=3, n_labels=2, gold={0: 1, 2: 0})
    assert result.labels.tolist() == [1, 1, 0]
    assert result.confidence[0] == 1.0
    assert result.confidence[2] == 1.0
    assert result.answers.tolist() == [3, 3, 0]


def test_gold_informs_dawid_skene_about_workers() -> None:
    # Worker 0 always disagrees with the truth on the golden tasks and worker 1 always agrees.
    # On task 2 they disagree; gold says to trust worker 1.
    answers = []
    gold = {}
    for task in range(10):
        truth = task % 2
        answers += [(task, 0, 1 - truth), (task, 1, truth)]
        gold[task] = truth
    answers += [(10, 0, 0), (10, 1, 1)]
    result = run("ds", answers, n_tasks=11, n_workers=2, n_labels=2, gold=gold)
    assert result.labels[10] == 1
    assert result.confidence[10] > 0.9
    assert result.confusion is not None
    assert np.diag(result.confusion[0]).max() < 0.3  # worker 0 is mostly wrong
    assert np.diag(result.confusion[1]).min() > 0.8


@pytest.mark.parametrize("method", METHODS)
def test_tasks_without_answers(method: str) -> None:
    answers = [(1, 0, 1), (1, 1, 1), (3, 0, 0)]
    result = run(method, answers, n_tasks=5, n_workers=3, n_labels=2)
    assert result.labels.tolist() == [-1, 1, -1, 0, -1]
    assert result.confidence[[0, 2, 4]].tolist() == [0.0, 0.0, 0.0]
    assert result.answers.tolist() == [0, 2, 0, 1, 0]
    assert result.confusion is not None
    assert result.confusion.shape == (3, 2, 2)


@pytest.mark.parametrize("method", METHODS)
def test_no_answers_at_all(method: str) -> None:
    empty = np.zeros(0, dtype=np.int64)
    result = aggregate(
        method=method,
        task_idx=empty,
        worker_idx=empty,
        label_idx=empty,
        n_tasks=2,
        n_workers=1,
        n_labels=3,
    )
    assert result.labels.tolist() == [-1, -1]
    assert result.confidence.tolist() == [0.0, 0.0]
    assert result.answers.tolist() == [0, 0]


def spammer_case(seed: int = 7) -> tuple[list[tuple[int, int, int]], np.ndarray]:
    """Workers 0-2 are right 80% of the time; workers 3 and 4 always answer 0, whatever the truth."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, size=300)
    answers = []
    for task, true in enumerate(truth):
        for worker in range(3):
            answers.append((task, worker, int(true) if rng.random() < 0.8 else int(1 - true)))
        answers += [(task, 3, 0), (task, 4, 0)]
    return answers, truth


def test_dawid_skene_down_weights_spammers_and_beats_majority_vote() -> None:
    answers, truth = spammer_case()
    mv = run("mv", answers, n_tasks=300, n_workers=5, n_labels=2)
    ds = run("ds", answers, n_tasks=300, n_workers=5, n_labels=2)
    mv_accuracy = float((mv.labels == truth).mean())
    ds_accuracy = float((ds.labels == truth).mean())
    # Majority vote is wrong whenever one of the three honest workers errs on a task whose truth
    # is 1 (then 0 wins 3-2); Dawid-Skene learns that workers 3 and 4 say 0 whatever the truth.
    assert mv_accuracy < 0.85
    assert ds_accuracy > 0.88
    assert ds_accuracy > mv_accuracy + 0.05
    assert ds.confusion is not None
    for spammer in (3, 4):
        # Both rows (true 0 and true 1) put almost everything on "0": the answers carry no signal.
        assert ds.confusion[spammer, :, 0] == pytest.approx([1.0, 1.0], abs=0.02)
    for honest in (0, 1, 2):
        assert np.diag(ds.confusion[honest]) == pytest.approx([0.8, 0.8], abs=0.08)


def test_perfect_worker_confusion_is_about_identity() -> None:
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, size=200)
    answers = []
    for task, true in enumerate(truth):
        answers.append((task, 0, int(true)))  # the perfect worker
        for worker in (1, 2):
            answers.append((task, worker, int(true) if rng.random() < 0.7 else int(rng.integers(0, 3))))
    result = run("ds", answers, n_tasks=200, n_workers=3, n_labels=3)
    assert result.confusion is not None
    assert result.confusion.shape == (3, 3, 3)
    np.testing.assert_allclose(result.confusion[0], np.eye(3), atol=0.03)
    np.testing.assert_allclose(result.confusion.sum(axis=2), 1.0)
    # Trusting the perfect worker, DS errs only where both others agree on the same wrong label.
    mv = run("mv", answers, n_tasks=200, n_workers=3, n_labels=3)
    assert (result.labels == truth).mean() >= 0.99
    assert (result.labels == truth).mean() > (mv.labels == truth).mean()


@pytest.mark.parametrize("method", ["mv", "wawa"])
def test_simple_methods_return_a_confusion_estimate(method: str) -> None:
    answers, _ = spammer_case()
    result = run(method, answers, n_tasks=300, n_workers=5, n_labels=2)
    assert result.confusion is not None
    np.testing.assert_allclose(result.confusion.sum(axis=2), 1.0)
    assert result.confusion[3, :, 0] == pytest.approx([1.0, 1.0], abs=0.05)  # prior: 2 / 91 off


def test_wawa_weights_workers_by_agreement() -> None:
    # On tasks 0-7 workers 0, 1 and 3 say 1 and worker 2 says 0. On task 8 only workers 0 and 2
    # answer and disagree: majority vote has a 1-1 tie (lowest label, 0, wins), Wawa trusts
    # worker 0, who agreed with the majority far more often.
    answers = []
    for task in range(8):
        answers += [(task, 0, 1), (task, 1, 1), (task, 3, 1), (task, 2, 0)]
    answers += [(8, 0, 1), (8, 2, 0)]
    mv = run("mv", answers, n_tasks=9, n_workers=4, n_labels=2)
    wawa = run("wawa", answers, n_tasks=9, n_workers=4, n_labels=2)
    assert mv.labels[8] == 0
    assert wawa.labels[8] == 1
    # Agreement with majority vote (task 8 counts as 0): worker 0 8 of 9, worker 2 1 of 9, so
    # skills (8 + 1) / (9 + 2) and (1 + 1) / (9 + 2); confidence = 9 / (9 + 2).
    assert wawa.confidence[8] == pytest.approx(9 / 11)
    assert wawa.iterations == 1


# --- invalid input --------------------------------------------------------------------------


def call(**overrides: object) -> AggregationResult:
    arguments: dict[str, object] = {
        "method": "ds",
        "task_idx": np.array([0, 1]),
        "worker_idx": np.array([0, 0]),
        "label_idx": np.array([0, 1]),
        "n_tasks": 2,
        "n_workers": 1,
        "n_labels": 2,
    }
    arguments.update(overrides)
    return aggregate(**arguments)


def test_valid_call_works() -> None:
    assert call().labels.tolist() == [0, 1]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"method": "glad"}, "unknown method 'glad'"),
        ({"worker_idx": np.array([0])}, "differ in length"),
        ({"label_idx": np.array([0, 1, 1])}, "differ in length"),
        ({"task_idx": np.array([0, 2])}, "task_idx holds 2, outside"),
        ({"task_idx": np.array([0, -1])}, "task_idx holds -1"),
        ({"worker_idx": np.array([0, 1])}, "worker_idx holds 1"),
        ({"label_idx": np.array([0, 2])}, "label_idx holds 2"),
        ({"label_idx": np.array([0.0, 1.0])}, "must hold integers"),
        ({"task_idx": np.array([[0, 1]])}, "one-dimensional"),
        ({"n_labels": -1}, "n_labels must be a non-negative integer"),
        ({"n_tasks": 2.0}, "n_tasks must be a non-negative integer"),
        ({"gold_task_idx": np.array([0])}, "give both"),
        ({"gold_task_idx": np.array([0]), "gold_label_idx": np.array([0, 1])}, "gold_task_idx and gold"),
        ({"gold_task_idx": np.array([0]), "gold_label_idx": np.array([2])}, "gold_label_idx holds 2"),
        ({"gold_task_idx": np.array([5]), "gold_label_idx": np.array([0])}, "gold_task_idx holds 5"),
        (
            {"gold_task_idx": np.array([1, 0, 1]), "gold_label_idx": np.array([0, 0, 1])},
            "golden task 1 is given two different labels",
        ),
    ],
)
def test_invalid_input_raises_value_error(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(**overrides)


def test_repeated_gold_with_the_same_label_is_fine() -> None:
    result = call(gold_task_idx=np.array([1, 1]), gold_label_idx=np.array([0, 0]))
    assert result.labels.tolist() == [0, 0]


# --- encoding -------------------------------------------------------------------------------


def test_encode_answers() -> None:
    encoded = encode_answers(
        tasks=["t2", "t1", "t2"],
        workers=["w1", "w1", "w9"],
        labels=["10", "2", "cat"],
    )
    assert encoded.tasks == ("t2", "t1")
    assert encoded.workers == ("w1", "w9")
    assert encoded.labels == ("2", "10", "cat")  # numbers numerically, before other strings
    assert encoded.task_idx.tolist() == [0, 1, 0]
    assert encoded.worker_idx.tolist() == [0, 0, 1]
    assert encoded.label_idx.tolist() == [1, 0, 2]
    assert encoded.task_idx.dtype == np.int64


def test_encode_answers_with_label_order() -> None:
    encoded = encode_answers(
        tasks=["a", "b"], workers=["x", "x"], labels=["no", "yes"], label_order=["yes", "no", "maybe"]
    )
    assert encoded.labels == ("yes", "no", "maybe")
    assert encoded.label_idx.tolist() == [1, 0]
    with pytest.raises(ValueError, match="not in label_order"):
        encode_answers(tasks=["a"], workers=["x"], labels=["perhaps"], label_order=["yes", "no"])
    with pytest.raises(ValueError, match="duplicates"):
        encode_answers(tasks=["a"], workers=["x"], labels=["yes"], label_order=["yes", "yes"])
    with pytest.raises(ValueError, match="differ in length"):
        encode_answers(tasks=["a"], workers=["x", "y"], labels=["yes"])


# --- a real data set ------------------------------------------------------------------------


def load_dataset(name: str) -> tuple[aggregation.EncodedAnswers, np.ndarray, np.ndarray]:
    folder = dataset_folder(name)
    with (folder / "answers.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    with (folder / "gold.csv").open(newline="") as f:
        gold = {row["task"]: row["label"] for row in csv.DictReader(f)}
    encoded = encode_answers(
        tasks=[r["task"] for r in rows],
        workers=[r["worker"] for r in rows],
        labels=[r["label"] for r in rows],
    )
    label_code = {label: i for i, label in enumerate(encoded.labels)}
    truth = np.array([label_code[gold[task]] for task in encoded.tasks], dtype=np.int64)
    given = np.random.default_rng(0).permutation(len(encoded.tasks))[: len(encoded.tasks) // 10]
    return encoded, truth, given


def run_encoded(
    method: str,
    encoded: aggregation.EncodedAnswers,
    gold_task: np.ndarray | None = None,
    gold_label: np.ndarray | None = None,
) -> AggregationResult:
    return aggregate(
        method=method,
        task_idx=encoded.task_idx,
        worker_idx=encoded.worker_idx,
        label_idx=encoded.label_idx,
        n_tasks=len(encoded.tasks),
        n_workers=len(encoded.workers),
        n_labels=len(encoded.labels),
        gold_task_idx=gold_task,
        gold_label_idx=gold_label,
    )


def test_rte_accuracy() -> None:
    encoded, truth, given = load_dataset("rte")
    rest = np.setdiff1d(np.arange(truth.size), given)
    accuracy = {}
    for method in METHODS:
        result = run_encoded(method, encoded, given, truth[given])
        assert (result.labels[given] == truth[given]).all()
        accuracy[method] = float((result.labels[rest] == truth[rest]).mean())
    assert accuracy["mv"] > 0.88
    assert accuracy["wawa"] > 0.9
    assert accuracy["ds"] > 0.92
    assert accuracy["ds"] > accuracy["mv"]


def test_rte_converges_before_the_iteration_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    encoded, truth, given = load_dataset("rte")
    result = run_encoded("ds", encoded, given, truth[given])
    assert 1 < result.iterations < aggregation.DS_MAX_ITERATIONS
    # Running to full convergence changes no label here and moves posteriors by little.
    monkeypatch.setattr(aggregation, "DS_TOL", 1e-14)
    monkeypatch.setattr(aggregation, "DS_MAX_ITERATIONS", 1000)
    longer = run_encoded("ds", encoded, given, truth[given])
    assert result.iterations < longer.iterations < 1000
    assert (longer.labels == result.labels).all()
    np.testing.assert_allclose(longer.confidence, result.confidence, atol=0.05)


def test_rte_matches_crowd_kit_references() -> None:
    encoded, truth, _ = load_dataset("rte")
    pd = pytest.importorskip("pandas")
    crowdkit = pytest.importorskip("crowdkit.aggregation")
    frame = pd.DataFrame({"task": encoded.task_idx, "worker": encoded.worker_idx, "label": encoded.label_idx})
    tasks = np.arange(len(encoded.tasks))

    # Majority vote: the same labels as crowd-kit wherever there is no tie.
    ours = run_encoded("mv", encoded)
    theirs = crowdkit.MajorityVote().fit_predict(frame).reindex(tasks).to_numpy()
    no_tie = ours.confidence > 0.5
    assert no_tie.sum() > 700
    assert (ours.labels[no_tie] == theirs[no_tie]).all()

    # Dawid-Skene without gold: at least as accurate as crowd-kit's (0.5 points of slack).
    ours = run_encoded("ds", encoded)
    theirs = crowdkit.DawidSkene(n_iter=100).fit_predict(frame).reindex(tasks).to_numpy()
    assert float((ours.labels == truth).mean()) >= float((theirs == truth).mean()) - 0.005
    assert float((ours.labels == theirs).mean()) > 0.95


@pytest.mark.parametrize("method", METHODS)
def test_answer_order_does_not_change_the_output(method: str) -> None:
    encoded, truth, given = load_dataset("rte")
    reference = run_encoded(method, encoded, given, truth[given])
    order = np.random.default_rng(42).permutation(encoded.task_idx.size)
    shuffled = aggregation.EncodedAnswers(
        task_idx=encoded.task_idx[order],
        worker_idx=encoded.worker_idx[order],
        label_idx=encoded.label_idx[order],
        tasks=encoded.tasks,
        workers=encoded.workers,
        labels=encoded.labels,
    )
    gold_order = np.random.default_rng(43).permutation(given.size)
    result = run_encoded(method, shuffled, given[gold_order], truth[given][gold_order])
    np.testing.assert_array_equal(result.labels, reference.labels)
    np.testing.assert_array_equal(result.confidence, reference.confidence)  # bit for bit
    assert result.confusion is not None and reference.confusion is not None
    np.testing.assert_array_equal(result.confusion, reference.confusion)
    assert result.iterations == reference.iterations


def test_importing_the_module_does_not_import_crowdkit() -> None:
    code = "import sys, quality.aggregation; assert 'crowdkit' not in sys.modules and 'pandas' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True)


# --- invariants on random input -------------------------------------------------------------


@st.composite
def answer_sets(draw: st.DrawFn) -> dict[str, object]:
    n_tasks = draw(st.integers(1, 12))
    n_workers = draw(st.integers(1, 6))
    n_labels = draw(st.integers(1, 4))
    n_answers = draw(st.integers(0, 40))
    codes = st.tuples(
        st.integers(0, n_tasks - 1), st.integers(0, n_workers - 1), st.integers(0, n_labels - 1)
    )
    answers = draw(st.lists(codes, min_size=n_answers, max_size=n_answers))
    gold = draw(st.dictionaries(st.integers(0, n_tasks - 1), st.integers(0, n_labels - 1), max_size=n_tasks))
    return {
        "answers": answers,
        "gold": gold,
        "n_tasks": n_tasks,
        "n_workers": n_workers,
        "n_labels": n_labels,
        "method": draw(st.sampled_from(METHODS)),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


@settings(max_examples=300, deadline=None)
@given(answer_sets())
def test_invariants(case: dict[str, object]) -> None:
    answers: list[tuple[int, int, int]] = case["answers"]  # type: ignore[assignment]
    gold: dict[int, int] = case["gold"]  # type: ignore[assignment]
    n_tasks: int = case["n_tasks"]  # type: ignore[assignment]
    n_workers: int = case["n_workers"]  # type: ignore[assignment]
    n_labels: int = case["n_labels"]  # type: ignore[assignment]
    method: str = case["method"]  # type: ignore[assignment]
    columns = np.array(answers, dtype=np.int64).reshape(-1, 3)
    arguments = {
        "method": method,
        "n_tasks": n_tasks,
        "n_workers": n_workers,
        "n_labels": n_labels,
        "gold_task_idx": np.array(list(gold), dtype=np.int64),
        "gold_label_idx": np.array(list(gold.values()), dtype=np.int64),
    }
    result = aggregate(task_idx=columns[:, 0], worker_idx=columns[:, 1], label_idx=columns[:, 2], **arguments)

    counts = np.bincount(columns[:, 0], minlength=n_tasks)
    assert result.answers.tolist() == counts.tolist()
    assert result.labels.shape == result.confidence.shape == (n_tasks,)
    assert ((result.confidence >= 0.0) & (result.confidence <= 1.0)).all()
    assert np.isfinite(result.confidence).all()
    for task in range(n_tasks):
        if task in gold:
            assert result.labels[task] == gold[task]
            assert result.confidence[task] == 1.0
        elif counts[task] == 0:
            assert result.labels[task] == -1
            assert result.confidence[task] == 0.0
        else:
            assert 0 <= result.labels[task] < n_labels
            # The chosen label is one that somebody gave, with at least an even share for mv.
            given_labels = columns[columns[:, 0] == task, 2]
            if method != "ds":
                assert result.labels[task] in given_labels
                assert result.confidence[task] >= 1.0 / n_labels - 1e-12
    assert result.confusion is not None
    assert result.confusion.shape == (n_workers, n_labels, n_labels)
    assert np.isfinite(result.confusion).all()
    np.testing.assert_allclose(result.confusion.sum(axis=2), 1.0)
    assert 0 <= result.iterations <= aggregation.DS_MAX_ITERATIONS

    seed: int = case["seed"]  # type: ignore[assignment]
    order = np.random.default_rng(seed).permutation(len(columns))
    shuffled = aggregate(
        task_idx=columns[order, 0],
        worker_idx=columns[order, 1],
        label_idx=columns[order, 2],
        **arguments,
    )
    np.testing.assert_array_equal(shuffled.labels, result.labels)
    np.testing.assert_array_equal(shuffled.confidence, result.confidence)
    np.testing.assert_array_equal(shuffled.confusion, result.confusion)
