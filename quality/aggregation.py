"""Label aggregation maths for the quality app: pure numpy, no database.

Everything here works on integer-coded answers (0-based task, worker and label indices);
``encode_answers`` turns string ids into such codes. The caller loads answers, calls
``aggregate`` and stores the result.

Methods (``METHODS``):

``ds`` (default)
    Dawid-Skene: every worker has a confusion matrix (row = true label, column = given label),
    estimated by EM together with the posterior of each task's true label, starting from the
    majority-vote shares. Golden tasks are clamped to their known label (one-hot posterior)
    from the start and in every iteration, so they anchor the worker estimates. It is a maximum
    a posteriori fit: every confusion row has a Dirichlet(1 + 2 on the diagonal) prior, i.e.
    two pseudo-answers of the true label, so a worker seen on a few tasks is neither perfect
    nor useless by default; the class frequencies have a Dirichlet(2, ..., 2) prior.

``mv``
    Majority vote. Confidence = share of the task's answers that gave the chosen label.

``wawa``
    Worker agreement with aggregate: weight each worker by ``skill_smoothed`` of their agreement
    with the majority vote (on golden tasks, with the true label), then take the weighted vote.
    Confidence = weighted share of the chosen label.

Rules that keep results the same across library upgrades and input order:

* Answers are sorted into one canonical order (task, worker, label) before any floating-point
  sum, so shuffling the input gives bit-identical output.
* Ties go to the **lowest label index** (``np.argmax`` returns the first maximum). With
  ``encode_answers`` that is the first label in ``label_order`` or, by default, in sorted order.
* DS stops when its EM objective (log-likelihood of the answers and golden labels plus the log
  prior), which EM never decreases, rises by less than ``DS_TOL`` per answer, or after
  ``DS_MAX_ITERATIONS`` iterations. crowd-kit's DawidSkene instead stops when a quantity that
  can dip does so, often after 2-5 iterations. EM's last steps are slow: on the data sets in
  ../shared/datasets, running on to full convergence (hundreds of iterations) changed no label
  and moved posteriors by a few hundredths; on a million synthetic answers it changed 3 labels of
  200,000. The stop is a fixed function of the input either way.
* Golden tasks get their true label with confidence 1.0 in every method, even with no answers.
  A task with no answers that is not golden gets label -1 and confidence 0.0.

``confusion`` for ``mv`` and ``wawa`` is a simple estimate, not a fitted model: each worker's
answers counted against the method's own output labels (golden tasks against the truth), plus
the same prior as DS, rows normalised. Good enough to store and show per-worker quality; it is
not used to choose labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

METHODS: Final = ("ds", "mv", "wawa")
DEFAULT_METHOD: Final = "ds"

# Prior, in pseudo-answers added to each worker's confusion counts (MAP estimate of a Dirichlet
# with parameters 1 + these): DS_PSEUDO_CORRECT on the diagonal of every row, DS_PSEUDO_ANY on
# every cell. Chosen by splitting only the golden share of the data sets in ../shared/datasets
# (clamp half, score the other half); see bench/aggregation.py.
DS_PSEUDO_CORRECT: Final = 2.0
DS_PSEUDO_ANY: Final = 0.0
DS_PSEUDO_CLASS: Final = 1.0  # pseudo-tasks per class for the class frequencies
DS_TOL: Final = 1e-7  # stop when the objective rises by less than this per answer
DS_MAX_ITERATIONS: Final = 100
_FLOOR: Final = 1e-12  # smallest probability whose log is taken (crowd-kit clips at 1e-10)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class AggregationResult:
    """One label per task, and per-worker confusion matrices.

    A golden task always has its true label and confidence 1.0, answered or not. ``confusion``
    is the MAP estimate, so a worker with no answers gets the prior's mode: the identity matrix
    (read it together with the worker's answer count). ``iterations`` is the number of EM
    iterations for ds, 0 for mv and 1 for wawa.
    """

    labels: np.ndarray  # int64, shape (n_tasks,), label index or -1 when a task has no answers
    confidence: np.ndarray  # float64, shape (n_tasks,), posterior of the chosen label (0.0 when no answers)
    answers: np.ndarray  # int64, shape (n_tasks,), number of answers per task
    confusion: np.ndarray | None  # float64 (n_workers, n_labels, n_labels), row = true label, col = given
    iterations: int
    # float64 (n_labels, n_tasks): every label's score per task (ds: the posterior; mv, wawa: vote shares),
    # golden tasks one-hot, a task with no answers all zero. What calibration reads.
    posterior: np.ndarray | None = None


@dataclass(frozen=True)
class EncodedAnswers:
    """Integer codes for answers given as strings, and the vocabularies that decode them."""

    task_idx: IntArray
    worker_idx: IntArray
    label_idx: IntArray
    tasks: tuple[str, ...]  # in order of first appearance
    workers: tuple[str, ...]  # in order of first appearance
    labels: tuple[str, ...]  # label_order, or the labels sorted by label_sort_key


# The skill rule's one definition: Laplace-smoothed accuracy, (correct + 1) / (answered + 2). The SQL form
# (quality.selectors.skill_expression) is built from these two constants.
SKILL_PRIOR_CORRECT = 1.0
SKILL_PRIOR_ANSWERED = 2.0


def skill_smoothed_array(*, correct: np.ndarray, answered: np.ndarray) -> np.ndarray:
    """`skill_smoothed` for arrays of counts."""
    return (correct + SKILL_PRIOR_CORRECT) / (answered + SKILL_PRIOR_ANSWERED)


def skill_smoothed(*, correct: int, answered: int) -> float:
    """Laplace-smoothed accuracy (correct + 1) / (answered + 2): 0.5 for a worker with no record."""
    if answered < 0 or correct < 0 or correct > answered:
        raise ValueError(f"need 0 <= correct <= answered, got correct={correct}, answered={answered}")
    return (correct + SKILL_PRIOR_CORRECT) / (answered + SKILL_PRIOR_ANSWERED)


def label_sort_key(label: str) -> tuple[int, int, str]:
    """Integer-looking labels first and numerically ("2" before "10"), then the rest as strings."""
    try:
        return (0, int(label), label)
    except ValueError:
        return (1, 0, label)


def encode_answers(
    *,
    tasks: Sequence[str],
    workers: Sequence[str],
    labels: Sequence[str],
    label_order: Sequence[str] | None = None,
) -> EncodedAnswers:
    """Turn parallel sequences of string ids into 0-based codes.

    Tasks and workers are numbered in order of first appearance. Labels are numbered by their
    position in ``label_order`` when given (it may hold labels nobody chose; lower position wins
    ties), else in ``label_sort_key`` order, which does not depend on the order of the answers.
    """
    if not len(tasks) == len(workers) == len(labels):
        raise ValueError(
            f"tasks, workers and labels differ in length: {len(tasks)}, {len(workers)}, {len(labels)}"
        )
    if label_order is None:
        label_vocab = tuple(sorted(set(labels), key=label_sort_key))
    else:
        label_vocab = tuple(label_order)
        if len(set(label_vocab)) != len(label_vocab):
            raise ValueError("label_order has duplicates")
    label_code = {label: i for i, label in enumerate(label_vocab)}
    unknown = set(labels) - label_code.keys()
    if unknown:
        raise ValueError(f"labels not in label_order: {sorted(unknown)[:5]}")
    task_code: dict[str, int] = {}
    worker_code: dict[str, int] = {}
    n = len(tasks)
    task_idx = np.fromiter((task_code.setdefault(t, len(task_code)) for t in tasks), np.int64, n)
    worker_idx = np.fromiter((worker_code.setdefault(w, len(worker_code)) for w in workers), np.int64, n)
    label_idx = np.fromiter((label_code[x] for x in labels), np.int64, n)
    return EncodedAnswers(
        task_idx=task_idx,
        worker_idx=worker_idx,
        label_idx=label_idx,
        tasks=tuple(task_code),
        workers=tuple(worker_code),
        labels=label_vocab,
    )


def aggregate(
    *,
    method: str,
    task_idx: np.ndarray,
    worker_idx: np.ndarray,
    label_idx: np.ndarray,
    n_tasks: int,
    n_workers: int,
    n_labels: int,
    gold_task_idx: np.ndarray | None = None,
    gold_label_idx: np.ndarray | None = None,
) -> AggregationResult:
    """Aggregate answers (parallel arrays: one element per answer) into one label per task.

    Raises ValueError on an unknown method, arrays of different lengths, codes out of range, or
    a golden task given two different labels. A worker may answer a task more than once; every
    answer counts.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of: {', '.join(METHODS)}")
    data = _prepare(
        task_idx=task_idx,
        worker_idx=worker_idx,
        label_idx=label_idx,
        n_tasks=n_tasks,
        n_workers=n_workers,
        n_labels=n_labels,
        gold_task_idx=gold_task_idx,
        gold_label_idx=gold_label_idx,
    )
    if method == "ds":
        return _dawid_skene(data)
    if method == "mv":
        return _majority_vote(data)
    return _wawa(data)


@dataclass(frozen=True)
class _Data:
    """Validated answers in canonical order (sorted by task, then worker, then label)."""

    task: IntArray
    worker: IntArray
    label: IntArray
    n_tasks: int
    n_workers: int
    n_labels: int
    counts: IntArray  # answers per task
    gold_task: IntArray  # distinct golden tasks
    gold_label: IntArray  # their labels


def _check_size(name: str, size: object) -> int:
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {size!r}")
    return int(size)


def _as_codes(name: str, values: np.ndarray | None, size: int) -> IntArray:
    if values is None:
        return np.zeros(0, dtype=np.int64)
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must hold integers, got dtype {array.dtype}")
    low, high = int(array.min()), int(array.max())
    if low < 0 or high >= size:
        raise ValueError(f"{name} holds {low if low < 0 else high}, outside the range 0..{size - 1}")
    return array.astype(np.int64, copy=False)


def _prepare(
    *,
    task_idx: np.ndarray,
    worker_idx: np.ndarray,
    label_idx: np.ndarray,
    n_tasks: int,
    n_workers: int,
    n_labels: int,
    gold_task_idx: np.ndarray | None,
    gold_label_idx: np.ndarray | None,
) -> _Data:
    n_tasks = _check_size("n_tasks", n_tasks)
    n_workers = _check_size("n_workers", n_workers)
    n_labels = _check_size("n_labels", n_labels)
    task = _as_codes("task_idx", task_idx, n_tasks)
    worker = _as_codes("worker_idx", worker_idx, n_workers)
    label = _as_codes("label_idx", label_idx, n_labels)
    if not task.size == worker.size == label.size:
        raise ValueError(
            f"task_idx, worker_idx and label_idx differ in length: {task.size}, {worker.size}, {label.size}"
        )
    if (gold_task_idx is None) != (gold_label_idx is None):
        raise ValueError("give both gold_task_idx and gold_label_idx, or neither")
    all_gold_tasks = _as_codes("gold_task_idx", gold_task_idx, n_tasks)
    all_gold_labels = _as_codes("gold_label_idx", gold_label_idx, n_labels)
    if all_gold_tasks.size != all_gold_labels.size:
        raise ValueError(
            "gold_task_idx and gold_label_idx differ in length: "
            f"{all_gold_tasks.size}, {all_gold_labels.size}"
        )
    gold_task, first = np.unique(all_gold_tasks, return_index=True)
    gold_label = all_gold_labels[first]
    if gold_task.size != all_gold_tasks.size:
        truth = np.zeros(n_tasks, dtype=np.int64)
        truth[gold_task] = gold_label
        conflict = np.flatnonzero(truth[all_gold_tasks] != all_gold_labels)
        if conflict.size:
            raise ValueError(f"golden task {int(all_gold_tasks[conflict[0]])} is given two different labels")

    # One canonical order, so that floating-point sums do not depend on the order of the input.
    if task.size:
        if n_tasks * n_workers * n_labels < 2**62:
            order = np.argsort((task * n_workers + worker) * n_labels + label, kind="stable")
        else:  # pragma: no cover - more than 4e18 (task, worker, label) cells
            order = np.lexsort((label, worker, task))
        task, worker, label = task[order], worker[order], label[order]
    return _Data(
        task=task,
        worker=worker,
        label=label,
        n_tasks=n_tasks,
        n_workers=n_workers,
        n_labels=n_labels,
        counts=np.bincount(task, minlength=n_tasks).astype(np.int64),
        gold_task=gold_task,
        gold_label=gold_label,
    )


# Internally label scores are class-major, shape (n_labels, n_tasks), so that the per-class
# gathers and np.bincount calls below read contiguous memory.


def _clamp_gold(data: _Data, scores: FloatArray) -> None:
    """Make golden tasks' scores one-hot on their true label."""
    if data.gold_task.size:
        scores[:, data.gold_task] = 0.0
        scores[data.gold_label, data.gold_task] = 1.0


def _vote_shares(data: _Data, weights: FloatArray | None) -> FloatArray:
    """(n_labels, n_tasks) share of the (weighted) answers per label; zero for tasks with no answers."""
    k = data.n_labels
    votes = np.bincount(data.label * data.n_tasks + data.task, weights=weights, minlength=k * data.n_tasks)
    shares = votes.reshape(k, data.n_tasks).astype(np.float64)
    totals = shares.sum(axis=0)
    np.divide(shares, totals, out=shares, where=totals > 0)
    return shares


def _confusion(data: _Data, scores: FloatArray) -> FloatArray:
    """M-step: confusion (n_workers, true, given) from class-major task posteriors, prior added."""
    k, n_workers = data.n_labels, data.n_workers
    cell = data.worker * k + data.label  # (worker, given label) of each answer
    counts = np.empty((k, n_workers * k))
    for true in range(k):
        counts[true] = np.bincount(cell, weights=scores[true][data.task], minlength=n_workers * k)
    confusion = counts.reshape(k, n_workers, k).transpose(1, 0, 2) + DS_PSEUDO_ANY
    confusion[:, np.arange(k), np.arange(k)] += DS_PSEUDO_CORRECT
    totals = confusion.sum(axis=2, keepdims=True)
    if DS_PSEUDO_ANY + DS_PSEUDO_CORRECT <= 0:  # pragma: no cover - only with a zero prior
        confusion[np.broadcast_to(totals == 0, confusion.shape)] = 1.0
        totals = confusion.sum(axis=2, keepdims=True)
    return np.ascontiguousarray(confusion / totals)


def _result(
    data: _Data, scores: FloatArray, confusion: FloatArray | None, iterations: int
) -> AggregationResult:
    _clamp_gold(data, scores)
    if data.n_labels:
        labels = np.argmax(scores, axis=0).astype(np.int64)  # first maximum: the lowest label index wins ties
        confidence = np.clip(scores[labels, np.arange(data.n_tasks)], 0.0, 1.0)
    else:
        labels = np.zeros(data.n_tasks, dtype=np.int64)
        confidence = np.zeros(data.n_tasks)
    known = data.counts > 0
    known[data.gold_task] = True
    labels[~known] = -1
    confidence[~known] = 0.0
    return AggregationResult(
        labels=labels,
        confidence=confidence.astype(np.float64),
        answers=data.counts,
        confusion=confusion,
        iterations=iterations,
        posterior=scores,
    )


def _hard_confusion(data: _Data, scores: FloatArray) -> FloatArray:
    """The simple confusion estimate of mv and wawa: answers against the chosen labels."""
    one_hot = np.zeros_like(scores)
    if data.n_labels:
        answered = np.flatnonzero(data.counts)
        one_hot[np.argmax(scores[:, answered], axis=0), answered] = 1.0
    _clamp_gold(data, one_hot)
    return _confusion(data, one_hot)


def _majority_vote(data: _Data) -> AggregationResult:
    shares = _vote_shares(data, None)
    return _result(data, shares, _hard_confusion(data, shares), iterations=0)


def _wawa(data: _Data) -> AggregationResult:
    shares = _vote_shares(data, None)
    _clamp_gold(data, shares)
    reference = np.argmax(shares, axis=0) if data.n_labels else np.zeros(data.n_tasks, dtype=np.int64)
    agree = (data.label == reference[data.task]).astype(np.float64)
    correct = np.bincount(data.worker, weights=agree, minlength=data.n_workers)
    answered = np.bincount(data.worker, minlength=data.n_workers)
    skill = skill_smoothed_array(correct=correct, answered=answered)
    weighted = _vote_shares(data, skill[data.worker])
    return _result(data, weighted, _hard_confusion(data, weighted), iterations=1)


def _dawid_skene(data: _Data) -> AggregationResult:
    # Written by hand rather than calling crowdkit.aggregation.DawidSkene because crowd-kit stops
    # on a quantity that can dip (often after 2-5 iterations, so labels depend on its version),
    # has no prior on confusion matrices, spends 0.25-0.7 s per EM iteration on a million answers
    # in pandas joins (about 0.03 s here), and costs 1-1.4 s and 100 MB to import. Here an EM
    # iteration is 2 * n_labels np.bincount calls over integer-coded arrays. crowd-kit stays the
    # reference in the tests and in bench/aggregation.py.
    k, n_tasks = data.n_labels, data.n_tasks
    posterior = _vote_shares(data, None)
    _clamp_gold(data, posterior)
    if not data.task.size or k == 0:
        return _result(data, posterior, _confusion(data, posterior), iterations=0)

    is_gold = np.zeros(n_tasks, dtype=bool)
    is_gold[data.gold_task] = True
    idle = np.flatnonzero((data.counts == 0) & ~is_gold)  # no answers, no gold: posterior stays 0
    cell = data.worker * k + data.label
    log_prior_weight = np.full((k, k), DS_PSEUDO_ANY)
    log_prior_weight[np.arange(k), np.arange(k)] += DS_PSEUDO_CORRECT

    confusion = _confusion(data, posterior)
    log_joint = np.empty((k, n_tasks))
    objective = -np.inf
    iterations = 0
    while iterations < DS_MAX_ITERATIONS:
        iterations += 1
        # M-step for the class frequencies (idle tasks have all-zero posteriors, so add nothing).
        class_weight = posterior.sum(axis=1) + DS_PSEUDO_CLASS
        log_class = np.log(np.maximum(class_weight / class_weight.sum(), _FLOOR))
        log_confusion = np.log(np.maximum(confusion, _FLOOR))
        # E-step: log p(true label, answers of the task) for every task and true label.
        for true in range(k):
            per_answer = log_confusion[:, true, :].reshape(-1)[cell]
            log_joint[true] = np.bincount(data.task, weights=per_answer, minlength=n_tasks)
        log_joint += log_class[:, None]
        top = log_joint.max(axis=0)
        np.exp(log_joint - top, out=posterior)
        total = posterior.sum(axis=0)
        posterior /= total
        log_evidence = np.log(total) + top  # log p(answers of the task); 0 for idle tasks
        # Objective at the current parameters: log p(answers, golden labels) + log prior.
        new_objective = (
            float(log_evidence.sum())
            - float(log_evidence[data.gold_task].sum())
            + float(log_joint[data.gold_label, data.gold_task].sum())
            + float((log_confusion * log_prior_weight).sum())
            + DS_PSEUDO_CLASS * float(log_class.sum())
        )
        _clamp_gold(data, posterior)
        if idle.size:
            posterior[:, idle] = 0.0
        # M-step for the confusion matrices.
        confusion = _confusion(data, posterior)
        if new_objective - objective < DS_TOL * data.task.size:
            break
        objective = new_objective
    return _result(data, posterior, confusion, iterations)
