"""Golden scoring by matched boxes (F1); aggregation by clustering the workers' boxes.

Matching: a box of one answer and a box of another are a pair when their labels agree and their intersection over
union (IoU) is at least ``iou_threshold``; boxes are matched one to one by the Hungarian method
(scipy.optimize.linear_sum_assignment), which takes the most pairs and, among equally many, the highest total IoU.
F1 = 2 * matched / (boxes in the answer + boxes in the reference): 1.0 when both are empty, 0.0 when one is.

crowd-kit has no aggregator for boxes (its image methods, SegmentationMajorityVote/RASA/EM, read pixel masks),
so aggregation is our own:

1. Skill: each worker's golden F1, smoothed by quality.aggregation's skill rule, (sum of F1 + 1) / (golden
   answers + 2), so a worker without golden answers weighs 0.5.
2. Clusters, per task and label: link two boxes of different workers whose IoU reaches ``iou_threshold``, and take
   the connected groups. Where a group holds two boxes of one worker (a chain through boxes of neighbouring
   objects), it is rebuilt by adding its links from the highest IoU down and refusing a link that would put two
   boxes of one worker together. Without such a clash both give the same groups, so the rebuild (a Python loop)
   runs only on the few clashing groups. Each cluster then holds at most one box per worker.
3. A cluster drawn by at least half of the task's workers is kept as one box, its corners the skill-weighted mean
   of its boxes' corners; the box's confidence is the share of the task's workers who drew it.
4. The task's confidence is the mean over all its clusters, kept or dropped, of the share of workers who agree
   with the decision (drew a kept box; did not draw a dropped one), so a box a few workers drew and the result
   left out lowers it. With no box drawn by anyone it is 1.0. On a simple task this is the mean confidence of
   the kept boxes, and for a result of no box the share of workers who drew none.

Golden tasks get their golden boxes with confidence 1.0 each and task confidence 1.0. A worker's score is the mean
F1 of their answers against the golden answer on golden tasks and against the result elsewhere.

Order: boxes are sorted by (task, label, worker) before any float sum, keeping each answer's own order of boxes
(one answer per task and worker, as the database enforces), and per-worker sums run in (task, worker) order, so
shuffled input gives the same output. Equal IoUs in the rebuild are taken in that box order. A result lists its
boxes by pool label order, then top, left, width and height.

Speed: everything runs on flat arrays across tasks; pairs of boxes are generated in blocks of a few million, so
memory stays bounded however many boxes a task has.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import pairwise
from operator import itemgetter
from typing import Any

import numpy as np

from quality.aggregation import skill_smoothed_array
from quality.types.base import FloatArray, IntArray, TypeAnswers, TypeResults
from quality.types.boxes.shape import DECIMALS

_BLOCK_PAIRS = 1 << 20  # box pairs per block: about a million, some 100 MB of temporaries


def _corners_of(boxes: Sequence[Mapping[str, Any]]) -> FloatArray:
    """(4, n) array: rows x1, y1, x2, y2, each contiguous for fast gathering."""
    n = len(boxes)
    corners = np.empty((4, n))
    for row, key in enumerate("xywh"):
        corners[row] = np.fromiter(map(itemgetter(key), boxes), np.float64, n)
    corners[2:] += corners[:2]
    return corners


def _area(corners: FloatArray) -> FloatArray:
    area: FloatArray = (corners[2] - corners[0]) * (corners[3] - corners[1])
    return area


def _label_codes(boxes: Sequence[Mapping[str, Any]], *, labels: Sequence[str]) -> IntArray:
    code = {label: i for i, label in enumerate(labels)}
    return np.fromiter(map(code.__getitem__, map(itemgetter("label"), boxes)), np.int64, len(boxes))


def _linked(
    a: FloatArray,
    area_a: FloatArray,
    i: IntArray,
    b: FloatArray,
    area_b: FloatArray,
    j: IntArray,
    *,
    threshold: float,
) -> tuple[IntArray, IntArray, FloatArray]:
    """The pairs (a[:, i], b[:, j]) whose IoU reaches threshold, with that IoU.

    Pairs apart along x are dropped before the y coordinates are read, which halves the gathering on typical
    images. Boxes have positive area, so the union is never 0.
    """
    inter_w = np.minimum(a[2, i], b[2, j]) - np.maximum(a[0, i], b[0, j])
    overlap_x = inter_w > 0
    i, j, inter_w = i[overlap_x], j[overlap_x], inter_w[overlap_x]
    inter = inter_w * np.maximum(np.minimum(a[3, i], b[3, j]) - np.maximum(a[1, i], b[1, j]), 0.0)
    iou = inter / (area_a[i] + area_b[j] - inter)
    reached = iou >= threshold
    return i[reached], j[reached], iou[reached]


def _most_pairs(iou: FloatArray, valid: np.ndarray) -> int:
    """How many one-to-one pairs the Hungarian method finds among the valid cells of an IoU matrix.

    The weight of a valid cell is K + IoU with K above the most pairs possible, so more pairs always win and IoU
    only chooses among matchings with equally many (F1 depends on the count alone).
    """
    weight = np.where(valid, min(valid.shape) + 1.0 + iou, 0.0)
    # scipy is imported where it is used: every web process loads the registry of types, and scipy.optimize
    # alone costs about 45 MiB and 0.4 s at import, which a process that never scores a box would pay.
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(weight, maximize=True)
    return int(valid[rows, cols].sum())


def golden_score(answer: Any, golden: Any, *, options: Mapping[str, Any]) -> float:
    if not answer and not golden:
        return 1.0
    if not answer or not golden:
        return 0.0
    given, truth = _corners_of(answer), _corners_of(golden)
    rows, cols = np.divmod(np.arange(len(answer) * len(golden)), len(golden))
    # The same arithmetic as the vectorised scoring in aggregate, so both agree at the threshold's edge.
    rows, cols, iou = _linked(
        given, _area(given), rows, truth, _area(truth), cols, threshold=float(options["iou_threshold"])
    )
    same = np.array(
        [answer[r]["label"] == golden[c]["label"] for r, c in zip(rows.tolist(), cols.tolist(), strict=True)],
        bool,
    )
    valid = np.zeros((len(answer), len(golden)), dtype=bool)
    valid[rows[same], cols[same]] = True
    matrix = np.zeros(valid.shape)
    matrix[rows[same], cols[same]] = iou[same]
    return 2.0 * _most_pairs(matrix, valid) / (len(answer) + len(golden))


def golden_correct(score: float, *, options: Mapping[str, Any]) -> bool:
    return score >= float(options["golden_share"])


def _pair_blocks(lo: IntArray, hi: IntArray) -> Iterator[tuple[IntArray, IntArray]]:
    """Every (i, j) with lo[i] <= j < hi[i], ordered by i then j, in blocks of about _BLOCK_PAIRS pairs."""
    counts = np.maximum(hi - lo, 0)
    ends = np.cumsum(counts)
    start = 0
    while start < len(lo):
        done = int(ends[start - 1]) if start else 0
        stop = max(int(np.searchsorted(ends, done + _BLOCK_PAIRS, side="right")), start + 1)
        block = counts[start:stop]
        firsts = np.cumsum(block) - block
        i = np.repeat(np.arange(start, stop), block)
        j = np.repeat(lo[start:stop] - firsts, block) + np.arange(int(block.sum()))
        yield i, j
        start = stop


def _all_links(
    a: FloatArray,
    area_a: FloatArray,
    b: FloatArray,
    area_b: FloatArray,
    *,
    lo: IntArray,
    hi: IntArray,
    threshold: float,
) -> tuple[IntArray, IntArray, FloatArray]:
    """Every pair (i, j), lo[i] <= j < hi[i], whose IoU reaches threshold, block by block."""
    found = [_linked(a, area_a, i, b, area_b, j, threshold=threshold) for i, j in _pair_blocks(lo, hi)]
    if not found:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return (
        np.concatenate([f[0] for f in found]),
        np.concatenate([f[1] for f in found]),
        np.concatenate([f[2] for f in found]),
    )


def _runs(key: IntArray) -> tuple[IntArray, IntArray]:
    """For each element of a sorted array, where its run of equal elements starts and just past where it ends."""
    firsts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, np.int64)
    lengths = np.diff(np.r_[firsts, len(key)])
    start: IntArray = np.repeat(firsts, lengths)
    return start, start + np.repeat(lengths, lengths)


def _f1_per_answer(
    *,
    answer_task: IntArray,
    box_answer: IntArray,
    box_group: IntArray,
    box_corners: FloatArray,
    box_area: FloatArray,
    ref_group: IntArray,
    ref_corners: FloatArray,
    n_labels: int,
    threshold: float,
) -> FloatArray:
    """golden_score of every answer against its task's reference boxes, vectorised.

    A group is task * n_labels + label. An answer whose valid pairs touch every box at most once is already a
    one-to-one matching, the largest there is; only answers where a box has two candidates (rare at thresholds
    of 0.5 and up) go to the Hungarian method.
    """
    n_answers, n_ref = len(answer_task), len(ref_group)
    ref_order = np.argsort(ref_group, kind="stable")
    ref_group, ref_corners = ref_group[ref_order], ref_corners[:, ref_order]
    lo = np.searchsorted(ref_group, box_group, side="left")
    hi = np.searchsorted(ref_group, box_group, side="right")
    pair_box, pair_ref, _ = _all_links(
        box_corners, box_area, ref_corners, _area(ref_corners), lo=lo, hi=hi, threshold=threshold
    )
    pair_answer = box_answer[pair_box]
    matched = np.bincount(pair_answer, minlength=n_answers).astype(np.float64)

    box_twice = np.bincount(pair_box, minlength=len(box_answer))[pair_box] > 1
    answer_ref = np.sort(pair_answer * max(n_ref, 1) + pair_ref)
    ref_twice = answer_ref[1:][answer_ref[1:] == answer_ref[:-1]] // max(n_ref, 1)
    clashing = np.union1d(pair_answer[box_twice], ref_twice)
    if len(clashing):
        # One maximum matching (Hopcroft-Karp) over all clashing answers at once: their boxes are the rows, each
        # (answer, reference box) a column, so the graph falls apart into one block per answer. It finds as many
        # pairs as the Hungarian method of golden_score, and a Python loop over thousands of answers is slow.
        from scipy.sparse import csr_matrix  # imported here, as in _most_pairs
        from scipy.sparse.csgraph import maximum_bipartite_matching

        chosen = np.flatnonzero(np.isin(pair_answer, clashing))
        rows, row_of = np.unique(pair_box[chosen], return_inverse=True)
        _, col_of = np.unique(pair_answer[chosen] * max(n_ref, 1) + pair_ref[chosen], return_inverse=True)
        graph = csr_matrix(
            (np.ones(len(chosen), dtype=np.int8), (row_of, col_of)), shape=(len(rows), int(col_of.max()) + 1)
        )
        paired = maximum_bipartite_matching(graph, perm_type="column") >= 0
        matched[clashing] = np.bincount(box_answer[rows[paired]], minlength=n_answers)[clashing]

    n_tasks = int(max(answer_task.max(initial=-1), (ref_group // n_labels).max(initial=-1))) + 1
    ref_count = np.bincount(ref_group // n_labels, minlength=n_tasks)[answer_task]
    total = np.bincount(box_answer, minlength=n_answers) + ref_count
    return np.divide(2.0 * matched, total, out=np.ones(n_answers), where=total > 0)


def _clusters(
    *, group: IntArray, worker: IntArray, corners: FloatArray, area: FloatArray, threshold: float
) -> IntArray:
    """Cluster ids of boxes sorted by (group, worker), not necessarily consecutive; see the module docstring."""
    from scipy.sparse import coo_matrix  # imported here, as in _most_pairs
    from scipy.sparse.csgraph import connected_components

    n = len(group)
    per_worker = int(worker.max(initial=0)) + 1
    run_start, run_end = _runs(group * per_worker + worker)  # a worker's boxes in one group
    # Links only to later workers of the same group: a worker's own boxes are never linked.
    edge_i, edge_j, edge_iou = _all_links(
        corners, area, corners, area, lo=run_end, hi=_runs(group)[1], threshold=threshold
    )
    graph = coo_matrix((np.ones(len(edge_i), dtype=np.int8), (edge_i, edge_j)), shape=(n, n)).tocsr()
    n_components, component = connected_components(graph, directed=False)
    cluster = component.astype(np.int64)

    # A clash needs a worker with two boxes in one group; only those boxes are checked.
    several = np.flatnonzero(run_end - run_start > 1)
    key = np.sort(cluster[several] * per_worker + worker[several])
    clashing = np.zeros(n_components, dtype=bool)
    clashing[key[1:][key[1:] == key[:-1]] // per_worker] = True
    if not clashing.any():
        return cluster

    chosen = np.flatnonzero(clashing[cluster[edge_i]])
    chosen = chosen[np.lexsort((edge_j[chosen], edge_i[chosen], -edge_iou[chosen]))]
    parent: dict[int, int] = {}
    workers_of: dict[int, set[int]] = {}
    worker_list = worker.tolist()

    def root(box: int) -> int:
        while parent.get(box, box) != box:
            box = parent[box]
        return box

    for i, j in zip(edge_i[chosen].tolist(), edge_j[chosen].tolist(), strict=True):
        ri, rj = root(i), root(j)
        if ri == rj:
            continue
        wi = workers_of.setdefault(ri, {worker_list[ri]})
        wj = workers_of.setdefault(rj, {worker_list[rj]})
        if wi & wj:
            continue
        low, high = min(ri, rj), max(ri, rj)  # the lower box is the root, whichever order the link came in
        parent[high] = low
        workers_of[low] = wi | wj
        del workers_of[high]
    rebuilt = np.flatnonzero(clashing[cluster])
    cluster[rebuilt] = n_components + np.fromiter(map(root, rebuilt.tolist()), np.int64, len(rebuilt))
    return cluster


def _rounded(corners: FloatArray) -> FloatArray:
    """Result boxes as rows x, y, w, h rounded like stored answers, the far edge kept inside the image."""
    x = np.round(corners[0], DECIMALS)
    y = np.round(corners[1], DECIMALS)
    w = np.minimum(np.round(corners[2] - corners[0], DECIMALS), np.round(1.0 - x, DECIMALS))
    h = np.minimum(np.round(corners[3] - corners[1], DECIMALS), np.round(1.0 - y, DECIMALS))
    return np.stack([x, y, w, h])


@contextmanager
def _without_gc() -> Iterator[None]:
    """Python's collector walks every live object each time enough new ones pile up; building half a million
    result dicts beside millions of answer objects triggers it often enough to triple the time, and none of
    these objects form cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _canonical_order(*, first: np.ndarray, keys: Sequence[IntArray], sizes: Sequence[int]) -> IntArray:
    """A stable sort by (first, keys...), each key in 0..size-1, as one int64 argsort where the codes fit."""
    bound = 2
    for size in sizes:
        bound *= max(size, 1)
    if bound < 2**62:
        code = first.astype(np.int64)
        for key, size in zip(keys, sizes, strict=True):
            code = code * max(size, 1) + key
        return np.argsort(code, kind="stable")
    return np.lexsort((*reversed(keys), first))  # pragma: no cover - codes past 4e18


def aggregate(answers: TypeAnswers, *, labels: Sequence[str], options: Mapping[str, Any]) -> TypeResults:
    threshold = float(options["iou_threshold"])
    n_tasks, n_workers, n_labels = answers.n_tasks, answers.n_workers, len(labels)
    task = np.asarray(answers.task, np.int64)
    worker = np.asarray(answers.worker, np.int64)
    n_answers = len(task)
    is_golden = np.zeros(n_tasks, dtype=bool)
    golden_tasks = list(answers.golden)
    is_golden[golden_tasks] = True
    on_golden = is_golden[task]

    flat = [box for value in answers.values for box in value]
    box_answer = np.repeat(np.arange(n_answers), np.fromiter(map(len, answers.values), np.int64, n_answers))
    box_label = _label_codes(flat, labels=labels)
    box_corners = _corners_of(flat)
    del flat
    # One order for every box: those of golden tasks first, then by (task, label, worker), each answer's own
    # order of boxes kept, so both parts are slices and every sum below runs in an order the input cannot change.
    order = _canonical_order(
        first=~on_golden[box_answer],
        keys=(task[box_answer], box_label, worker[box_answer]),
        sizes=(n_tasks, n_labels, n_workers),
    )
    box_answer, box_label, box_corners = box_answer[order], box_label[order], box_corners[:, order]
    box_task, box_worker = task[box_answer], worker[box_answer]
    box_group = box_task * n_labels + box_label
    box_area = _area(box_corners)
    split = int(on_golden[box_answer].sum())
    on_gold, off_gold = slice(0, split), slice(split, None)
    # Per-worker sums over answers run in (task, worker) order for the same reason.
    by_task_worker = _canonical_order(
        first=np.zeros(n_answers, bool), keys=(task, worker), sizes=(n_tasks, n_workers)
    )

    golden_boxes = [box for t in golden_tasks for box in answers.golden[t]]
    golden_box_task = np.repeat(
        np.array(golden_tasks, np.int64), [len(answers.golden[t]) for t in golden_tasks]
    )
    f1 = np.zeros(n_answers)
    f1[on_golden] = _f1_per_answer(
        answer_task=task[on_golden],
        box_answer=(np.cumsum(on_golden) - 1)[box_answer[on_gold]],
        box_group=box_group[on_gold],
        box_corners=box_corners[:, on_gold],
        box_area=box_area[on_gold],
        ref_group=golden_box_task.astype(np.int64) * n_labels + _label_codes(golden_boxes, labels=labels),
        ref_corners=_corners_of(golden_boxes),
        n_labels=n_labels,
        threshold=threshold,
    )
    scored = by_task_worker[on_golden[by_task_worker]]
    skill = skill_smoothed_array(
        correct=np.bincount(worker[scored], weights=f1[scored], minlength=n_workers),
        answered=np.bincount(worker[scored], minlength=n_workers),
    )

    cluster = _clusters(
        group=box_group[off_gold],
        worker=box_worker[off_gold],
        corners=box_corners[:, off_gold],
        area=box_area[off_gold],
        threshold=threshold,
    )
    n_clusters = int(cluster.max(initial=-1)) + 1
    weight = skill[box_worker[off_gold]]
    drawn = np.bincount(cluster, minlength=n_clusters)
    weight_sum = np.bincount(cluster, weights=weight, minlength=n_clusters)
    corner_sum = np.stack(
        [
            np.bincount(cluster, weights=weight * box_corners[k, off_gold], minlength=n_clusters)
            for k in range(4)
        ]
    )
    cluster_group = np.zeros(n_clusters, np.int64)
    cluster_group[cluster] = box_group[off_gold]
    cluster_task = cluster_group // n_labels
    exists = drawn > 0
    answered = np.bincount(task, minlength=n_tasks)
    share = np.divide(drawn, answered[cluster_task], out=np.zeros(n_clusters), where=exists)
    kept = exists & (2 * drawn >= answered[cluster_task])

    # Task confidence: the mean agreement with the decision over the task's clusters (module docstring).
    n_task_clusters = np.bincount(cluster_task[exists], minlength=n_tasks)
    agreement = np.bincount(
        cluster_task[exists], weights=np.where(kept, share, 1.0 - share)[exists], minlength=n_tasks
    )
    confidence = np.divide(agreement, n_task_clusters, out=np.ones(n_tasks), where=n_task_clusters > 0)
    confidence[answered == 0] = 0.0
    confidence[is_golden] = 1.0

    result = np.flatnonzero(kept)
    result_box = _rounded(corner_sum[:, result] / weight_sum[result])
    result_group, result_share = cluster_group[result], share[result]
    listed = np.lexsort((result_box[3], result_box[2], result_box[0], result_box[1], result_group))
    result_box, result_group, result_share = result_box[:, listed], result_group[listed], result_share[listed]
    result_task = result_group // n_labels

    final: list[Any] = [None] * n_tasks
    with _without_gc():
        for t in np.flatnonzero((answered > 0) & ~is_golden).tolist():
            final[t] = []
        rows = [
            {"label": labels[label], "x": x, "y": y, "w": w, "h": h, "confidence": c}
            for label, x, y, w, h, c in zip(
                (result_group % n_labels).tolist(), *result_box.tolist(), result_share.tolist(), strict=True
            )
        ]
        starts = (
            np.flatnonzero(np.r_[True, result_task[1:] != result_task[:-1]]) if len(rows) else np.zeros(0)
        )
        bounds = [*starts.tolist(), len(rows)]
        for start, stop in pairwise(bounds):
            final[int(result_task[start])] = rows[start:stop]
        for t in golden_tasks:
            final[t] = [{**box, "confidence": 1.0} for box in answers.golden[t]]

    result_corners = result_box.copy()
    result_corners[2:] += result_corners[:2]
    f1[~on_golden] = _f1_per_answer(
        answer_task=task[~on_golden],
        box_answer=(np.cumsum(~on_golden) - 1)[box_answer[off_gold]],
        box_group=box_group[off_gold],
        box_corners=box_corners[:, off_gold],
        box_area=box_area[off_gold],
        ref_group=result_group,
        ref_corners=result_corners,
        n_labels=n_labels,
        threshold=threshold,
    )
    given = np.bincount(worker[by_task_worker], minlength=n_workers)
    summed = np.bincount(worker[by_task_worker], weights=f1[by_task_worker], minlength=n_workers)
    return TypeResults(
        answers=final,
        confidence=confidence,
        worker_score=np.divide(summed, given, out=np.zeros(n_workers), where=given > 0),
    )
