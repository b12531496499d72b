"""quality.selection: the method a pool's golden items choose, by held-out log-likelihood. No database."""

from __future__ import annotations

import numpy as np

from quality.calibration import MIN_ITEMS, aggregate_calibrated
from quality.selection import CANDIDATES, FALLBACK, aggregate_chosen


def expert_and_spammers(*, n_tasks: int = 600, gold: int = 60, seed: int = 0):
    """Every task: one expert (right 95% of the time) and two of four spammers (answering at random). The
    majority is right only about three times in four; Dawid-Skene seeded with gold learns who is who."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n_tasks)
    task = np.repeat(np.arange(n_tasks), 3)
    spammers = np.stack([rng.choice(np.arange(1, 5), 2, replace=False) for _ in range(n_tasks)])
    worker = np.column_stack([np.zeros(n_tasks, dtype=np.int64), spammers]).reshape(-1)
    expert_right = rng.random(task.size) < 0.95
    label = np.where(
        worker == 0, np.where(expert_right, truth[task], 1 - truth[task]), rng.integers(0, 2, task.size)
    )
    gold_task = np.arange(gold, dtype=np.int64)
    return {
        "task_idx": task.astype(np.int64),
        "worker_idx": worker.astype(np.int64),
        "label_idx": label.astype(np.int64),
        "n_tasks": n_tasks,
        "n_workers": 5,
        "n_labels": 2,
        "gold_task_idx": gold_task,
        "gold_label_idx": truth[gold_task],
    }, truth


def test_the_method_whose_calibrated_confidence_predicts_the_gold_best_is_chosen():
    answers, truth = expert_and_spammers()
    chosen = aggregate_chosen(**answers)
    scores = {m: aggregate_calibrated(method=m, **answers).calibration.log_likelihood for m in CANDIDATES}
    assert chosen.choice.scores == scores
    assert chosen.choice.method == "ds" == max(scores, key=lambda m: scores[m] or -np.inf)
    assert chosen.choice.runner_up in ("mv", "wawa") and not chosen.choice.fell_back
    regular = np.arange(60, 600)
    assert (chosen.calibrated.result.labels[regular] == truth[regular]).mean() > 0.9  # majority vote: ~0.75


def test_too_few_golden_items_fall_back_to_dawid_skene():
    answers, _ = expert_and_spammers(gold=MIN_ITEMS - 1)
    chosen = aggregate_chosen(**answers)
    assert chosen.choice.method == FALLBACK and chosen.choice.fell_back
    assert chosen.choice.scores == {FALLBACK: None} and chosen.choice.runner_up is None


def test_one_candidate_is_run_as_it_is():
    answers, _ = expert_and_spammers()
    alone = aggregate_chosen(candidates=("mv",), **answers)
    direct = aggregate_calibrated(method="mv", **answers)
    assert alone.choice.method == "mv" and alone.choice.runner_up is None
    np.testing.assert_array_equal(alone.calibrated.result.confidence, direct.result.confidence)
