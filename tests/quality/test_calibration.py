"""quality.calibration: confidences that mean what they say, fitted on held-out golden items. No database."""

from __future__ import annotations

import numpy as np
import pytest

from quality.aggregation import aggregate
from quality.calibration import (
    ISOTONIC,
    ISOTONIC_MIN_ITEMS,
    MIN_ITEMS,
    TEMPERATURE,
    UNCALIBRATED,
    Calibration,
    aggregate_calibrated,
    calibration_fit,
    gold_folds,
    held_out_posteriors,
    reliability,
    temperature_scaled,
)


def overconfident(n: int, *, accuracy: float, claimed: float, k: int = 2, seed: int = 0):
    """Posteriors that give `claimed` to their top label, which is right with probability `accuracy`."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    right = rng.random(n) < accuracy
    top = np.where(right, truth, (truth + rng.integers(1, k, n)) % k)
    posterior = np.full((k, n), (1.0 - claimed) / (k - 1))
    posterior[top, np.arange(n)] = claimed
    return posterior, truth


def test_reliability_is_the_weighted_gap_per_bin():
    confidence = np.array([0.95, 0.95, 0.95, 0.95, 0.55, 0.55])
    correct = np.array([True, True, True, False, True, False])
    error, bins = reliability(confidence, correct, bins=10)
    # Bin 0.9-1.0: confidence 0.95, accuracy 0.75; bin 0.5-0.6: 0.55 against 0.5.
    assert error == pytest.approx(4 / 6 * 0.20 + 2 / 6 * 0.05)
    assert bins == ((0.5, 0.6, 2, 0.55, 0.5), (0.9, 1.0, 4, 0.95, 0.75))


def test_an_overconfident_posterior_is_brought_down_to_its_accuracy():
    posterior, truth = overconfident(400, accuracy=0.8, claimed=0.99)
    calibration = calibration_fit(posterior, truth)
    assert calibration.kind == TEMPERATURE and calibration.items == 400
    before, after = calibration.ece_before, calibration.ece_after
    assert before is not None and after is not None
    assert before == pytest.approx(0.19, abs=0.03)
    assert after < before / 3  # cross-validated: each fold maps to its own fit's figure, so some spread stays
    fresh, fresh_truth = overconfident(2000, accuracy=0.8, claimed=0.99, seed=1)
    calibrated = calibration.apply(fresh)
    assert calibrated.mean() == pytest.approx(0.8, abs=0.04)
    right = np.argmax(fresh, axis=0) == fresh_truth
    assert reliability(calibrated, right)[0] < 0.05


@pytest.mark.parametrize("k", [2, 4])
def test_temperature_keeps_the_chosen_label(k):
    rng = np.random.default_rng(3)
    posterior = rng.dirichlet(np.ones(k), size=50).T
    scaled = temperature_scaled(posterior, 2.5, mix=0.1)
    np.testing.assert_array_equal(np.argmax(scaled, axis=0), np.argmax(posterior, axis=0))
    np.testing.assert_allclose(scaled.sum(axis=0), 1.0)
    if k == 2:  # with two labels the order of confidences is kept too (not so with more)
        order = np.argsort(posterior.max(axis=0), kind="stable")
        assert (np.diff(scaled.max(axis=0)[order]) >= -1e-12).all()


def test_a_task_without_answers_keeps_zero_confidence():
    posterior = np.array([[0.9, 0.0], [0.1, 0.0]])
    assert temperature_scaled(posterior, 3.0)[:, 1].tolist() == [0.0, 0.0]
    calibration = Calibration(kind=TEMPERATURE, items=50, temperature=3.0)
    assert calibration.apply(posterior)[1] == 0.0


def test_too_few_golden_items_leave_the_confidence_uncalibrated():
    posterior, truth = overconfident(MIN_ITEMS - 1, accuracy=0.5, claimed=0.99)
    calibration = calibration_fit(posterior, truth)
    assert calibration.kind == UNCALIBRATED and calibration.items == MIN_ITEMS - 1
    assert calibration.ece_before is not None and calibration.ece_after is None
    np.testing.assert_allclose(calibration.apply(posterior), 0.99)


def test_unanswered_golden_items_do_not_count():
    posterior, truth = overconfident(MIN_ITEMS, accuracy=0.8, claimed=0.9)
    posterior[:, :5] = 0.0
    assert calibration_fit(posterior, truth).kind == UNCALIBRATED


def test_many_golden_items_fit_an_isotonic_map():
    posterior, truth = overconfident(ISOTONIC_MIN_ITEMS, accuracy=0.7, claimed=0.95)
    calibration = calibration_fit(posterior, truth)
    assert calibration.kind == ISOTONIC
    assert list(calibration.isotonic_y) == sorted(calibration.isotonic_y)  # non-decreasing
    assert calibration.apply(posterior).mean() == pytest.approx(0.7, abs=0.03)


def test_the_json_form_applies_the_same():
    posterior, truth = overconfident(200, accuracy=0.85, claimed=0.999)
    calibration = calibration_fit(posterior, truth)
    again = Calibration.from_json(calibration.as_json())
    np.testing.assert_allclose(again.apply(posterior), calibration.apply(posterior), rtol=1e-5)
    assert Calibration.from_json(None).kind == UNCALIBRATED


def test_no_golden_item_is_scored_by_a_fit_that_was_given_its_label():
    gold_task = np.arange(10, 22, dtype=np.int64)
    gold_label = np.arange(12, dtype=np.int64) % 2
    fits: list[set[int]] = []

    def fit(task: np.ndarray, label: np.ndarray) -> np.ndarray:
        fits.append(set(task.tolist()))
        posterior = np.zeros((2, 30))
        posterior[0] = len(fits)  # which fit scored the column
        return posterior

    held = held_out_posteriors(fit, gold_task=gold_task, gold_label=gold_label, folds=4)
    fold = gold_folds(12, folds=4)
    for column, task in enumerate(gold_task.tolist()):
        scored_by = int(held[0, column]) - 1
        assert task not in fits[scored_by]
        assert fits[scored_by] == set(gold_task[fold != fold[column]].tolist())


def crowd(*, n_tasks: int, n_workers: int, overlap: int, seed: int):
    """Binary tasks; workers right with probability ~ Beta(8, 2), but a quarter of the tasks are hard and
    everyone is right on them only 60% of the time: Dawid-Skene, which has no task difficulty, is then sure of
    labels that are often wrong, as on the real data sets."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n_tasks)
    skill = rng.beta(8, 2, n_workers)
    hard = rng.random(n_tasks) < 0.25
    task = np.repeat(np.arange(n_tasks), overlap)
    worker = np.concatenate([rng.choice(n_workers, overlap, replace=False) for _ in range(n_tasks)])
    right = rng.random(task.size) < np.where(hard[task], 0.6, skill[worker])
    label = np.where(right, truth[task], 1 - truth[task])
    return task.astype(np.int64), worker.astype(np.int64), label.astype(np.int64), truth


def test_a_pool_run_calibrates_dawid_skene_on_held_out_gold():
    task, worker, label, truth = crowd(n_tasks=3000, n_workers=60, overlap=3, seed=2)
    gold = np.arange(0, 3000, 10, dtype=np.int64)  # 10% golden
    args = {
        "method": "ds",
        "task_idx": task,
        "worker_idx": worker,
        "label_idx": label,
        "n_tasks": 3000,
        "n_workers": 60,
        "n_labels": 2,
        "gold_task_idx": gold,
        "gold_label_idx": truth[gold],
    }
    run = aggregate_calibrated(**args)
    plain = aggregate(**args)
    np.testing.assert_array_equal(run.result.labels, plain.labels)  # calibration never changes a label
    np.testing.assert_array_equal(run.raw_confidence, plain.confidence)
    assert run.calibration.kind == TEMPERATURE and run.calibration.items == gold.size
    assert (run.result.confidence[gold] == 1.0).all()  # golden tasks are known
    regular = np.setdiff1d(np.arange(3000), gold)
    right = plain.labels[regular] == truth[regular]
    before = reliability(plain.confidence[regular], right)[0]
    after = reliability(run.result.confidence[regular], right)[0]
    assert after < before / 2 and after < 0.04


def test_a_run_with_too_few_golden_items_says_uncalibrated():
    task, worker, label, truth = crowd(n_tasks=400, n_workers=20, overlap=3, seed=4)
    gold = np.arange(MIN_ITEMS - 1, dtype=np.int64)
    run = aggregate_calibrated(
        method="mv",
        task_idx=task,
        worker_idx=worker,
        label_idx=label,
        n_tasks=400,
        n_workers=20,
        n_labels=2,
        gold_task_idx=gold,
        gold_label_idx=truth[gold],
    )
    assert run.calibration.kind == UNCALIBRATED and run.calibration.items == MIN_ITEMS - 1
    regular = np.arange(MIN_ITEMS - 1, 400)
    np.testing.assert_array_equal(run.result.confidence[regular], run.raw_confidence[regular])
