"""Golden scoring by Jaccard similarity; aggregation by binary relevance over our Dawid-Skene.

Binary relevance: each label of the pool is its own two-class problem (chosen or not by each answer), and
quality.aggregation's Dawid-Skene fits it, with golden tasks clamped to whether their golden set holds the label.
So every worker gets one 2x2 confusion matrix per label, and every task a posterior p that the label belongs.
A task's result is the labels with p >= 0.5 (an exact tie counts as chosen), in pool label order, and every
label's p is given with it (label_confidence), so a requester can set a stricter bar per label; its confidence
is the probability that the whole set is right if the labels are independent given the answers: the product
over labels of max(p, 1 - p). crowd-kit has this as BinaryRelevance(DawidSkene()), without golden tasks and
with its own stop rule (see quality/aggregation.py), so it is the reference in the tests only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from quality.aggregation import aggregate as aggregate_labels
from quality.types.base import FloatArray, IntArray, TypeAnswers, TypeResults


def golden_score(answer: Any, golden: Any, *, options: Mapping[str, Any]) -> float:
    given, truth = set(answer), set(golden)
    union = given | truth
    return len(given & truth) / len(union) if union else 1.0


def golden_correct(score: float, *, options: Mapping[str, Any]) -> bool:
    return score >= float(options["golden_share"])


def _set_codes(values: Sequence[Any], *, labels: Sequence[str]) -> tuple[IntArray, np.ndarray]:
    """Each answer's set as a code into ``members`` (n_sets, n_labels) of bools.

    Codes number the distinct sets in a fixed order (by their sorted label indices), so they can break ties in
    the canonical order of answers. Sets repeat a lot (6 labels give at most 64), so each is worked out once.
    """
    seen: dict[tuple[str, ...], int] = {}
    first = np.fromiter((seen.setdefault(tuple(v), len(seen)) for v in values), np.int64, len(values))
    position = {label: i for i, label in enumerate(labels)}
    keys = [tuple(sorted({position[label] for label in given})) for given in seen]
    distinct = sorted(set(keys))
    rank = {key: i for i, key in enumerate(distinct)}
    members = np.zeros((len(distinct), len(labels)), dtype=bool)
    for i, key in enumerate(distinct):
        members[i, list(key)] = True
    to_rank = np.fromiter((rank[key] for key in keys), np.int64, len(keys))
    return to_rank[first], members


def aggregate(answers: TypeAnswers, *, labels: Sequence[str], options: Mapping[str, Any]) -> TypeResults:
    k, n_tasks, n_workers = len(labels), answers.n_tasks, answers.n_workers
    code, members = _set_codes(answers.values, labels=labels)
    task, worker = np.asarray(answers.task, np.int64), np.asarray(answers.worker, np.int64)
    # One canonical order (task, worker, set), so that the float sums below do not depend on the input order;
    # quality.aggregation sorts again, which costs little on sorted input.
    n_sets = max(len(members), 1)
    if n_tasks * n_workers * n_sets < 2**62:
        order = np.argsort((task * n_workers + worker) * n_sets + code, kind="stable")
    else:  # pragma: no cover - more than 4e18 (task, worker, set) cells
        order = np.lexsort((code, worker, task))
    task, worker, code = task[order], worker[order], code[order]

    position = {label: i for i, label in enumerate(labels)}
    gold_task = np.fromiter(answers.golden.keys(), np.int64, len(answers.golden))
    gold_member = np.zeros((len(gold_task), k), dtype=bool)
    for row, golden in enumerate(answers.golden.values()):
        gold_member[row, [position[label] for label in golden]] = True

    # Golden tasks come back from quality.aggregation clamped (p is 0 or 1), so they get their golden set
    # and confidence 1.0 here without further work.
    chosen = np.zeros((n_tasks, k), dtype=bool)
    belongs = np.zeros((n_tasks, k))
    confidence = np.ones(n_tasks)
    inter = np.zeros(len(task), dtype=np.int64)  # per answer, labels shared with the task's result
    union = np.zeros(len(task), dtype=np.int64)
    for j in range(k):
        given = members[code, j]
        result = aggregate_labels(
            method="ds",
            task_idx=task,
            worker_idx=worker,
            label_idx=given.astype(np.int64),
            n_tasks=n_tasks,
            n_workers=n_workers,
            n_labels=2,
            gold_task_idx=gold_task,
            gold_label_idx=gold_member[:, j].astype(np.int64),
        )
        # The confidence of the binary result is max(p, 1 - p); p itself is needed for the tie rule.
        p_chosen = np.where(result.labels == 1, result.confidence, 1.0 - result.confidence)
        chosen[:, j] = p_chosen >= 0.5
        belongs[:, j] = p_chosen
        confidence *= result.confidence
        inter += given & chosen[task, j]
        union += given | chosen[task, j]

    known = np.bincount(task, minlength=n_tasks) > 0
    known[gold_task] = True
    confidence[~known] = 0.0
    belongs[~known] = 0.0
    # Tasks share few distinct result sets, so each is spelt out once. Rows are packed into bytes because
    # np.unique(axis=0) on the bool rows takes 15 times as long.
    width = max((k + 7) // 8, 1)
    packed = np.zeros((n_tasks, width), dtype=np.uint8)
    packed[:, : (k + 7) // 8] = np.packbits(chosen, axis=1)
    distinct, which = np.unique(packed.view(np.dtype((np.void, width))).ravel(), return_inverse=True)
    rows = np.unpackbits(distinct.view(np.uint8).reshape(-1, width), axis=1, count=k).astype(bool)
    spelt = [[labels[j] for j in np.flatnonzero(row).tolist()] for row in rows]
    final = [
        list(spelt[i]) if is_known else None
        for i, is_known in zip(which.tolist(), known.tolist(), strict=True)
    ]

    # worker_score: the plain mean Jaccard similarity of the worker's answers to the task results (the golden
    # set on golden tasks), as single_choice gives the plain share of matching answers; 0.0 with no answers.
    similarity = np.divide(inter, union, out=np.ones(len(task)), where=union > 0)
    answered = np.bincount(worker, minlength=n_workers)
    summed = np.bincount(worker, weights=similarity, minlength=n_workers)
    return TypeResults(
        answers=final,
        confidence=confidence,
        worker_score=np.divide(summed, answered, out=np.zeros(n_workers), where=answered > 0),
        label_confidence=belongs,
    )


def label_vote_estimate(*, ticked: np.ndarray) -> tuple[np.ndarray, float, FloatArray]:
    """Several labels, from one task's answers alone: (answers x labels) bools -> the labels at least half of
    the answers ticked, the product over labels of the share on the winning side, and each label's share.

    The type's own confidence is the same product over Dawid-Skene posteriors, which need the whole pool:
    fitted to one task's answers alone, Dawid-Skene calls any split certain. Vote shares are what one task's
    answers can tell; the next run puts the posteriors in their place (and serves the task again if its
    confidence falls below the target).
    """
    share = ticked.mean(axis=0) if ticked.shape[0] else np.zeros(ticked.shape[1])
    chosen = share >= 0.5  # an exact tie counts as chosen, as in the type's aggregation
    return chosen, float(np.prod(np.where(chosen, share, 1.0 - share))), share


def estimate_alone(answers: TypeAnswers, *, labels: Sequence[str], options: Mapping[str, Any]) -> TypeResults:
    """One task (task code 0) from its answers alone, by each label's vote (label_vote_estimate); a worker's
    score is the Jaccard similarity of their answer to the estimate."""
    position = {label: i for i, label in enumerate(labels)}
    ticked = np.zeros((len(answers.values), len(labels)), dtype=bool)
    for row, value in enumerate(answers.values):
        ticked[row, [position[label] for label in value]] = True
    chosen, confidence, share = label_vote_estimate(ticked=ticked)
    inter = (ticked & chosen).sum(axis=1)
    union = (ticked | chosen).sum(axis=1)
    similarity = np.divide(inter, union, out=np.ones(len(union)), where=union > 0)
    worker = np.asarray(answers.worker, np.int64)
    answered = np.bincount(worker, minlength=answers.n_workers)
    summed = np.bincount(worker, weights=similarity, minlength=answers.n_workers)
    return TypeResults(
        answers=[[label for label, keep in zip(labels, chosen.tolist(), strict=True) if keep]],
        confidence=np.array([confidence]),
        worker_score=np.divide(summed, answered, out=np.zeros(answers.n_workers), where=answered > 0),
        label_confidence=share[None, :],
    )
