"""Calibration of aggregated confidences on a pool's golden items: pure numpy, no database.

A Dawid-Skene posterior is not a probability one can act on: labels it gives 0.99 are right 86-97% of the
time on the shared data sets (docs/benchmarks.md). Dynamic overlap stops tasks on it, requesters read it, and
thresholds are chosen against it, so each run refits a calibration on the pool's golden items.

Golden items are clamped to their true label in the fit, so their own posterior says nothing. They are split
into ``FOLDS`` folds; for each fold the method is fitted again with the other folds' golden labels only, and
the posterior of each held-out golden item is kept (``held_out_posteriors``). No golden item calibrates its
own confidence: the calibration is fitted on these held-out posteriors and applied to the full fit's regular
tasks. Its quality is reported the same way, one level down: ``calibration_fit`` scores each fold with a
calibration fitted on the other folds, so the "after" error is measured on items the calibration never saw.

Kinds:

``temperature`` (the default)
    p' = softmax(log((1 - m) p + m / k) / T): the posterior is first mixed with the uniform over the k labels
    (share m), then its logits divided by a temperature T. Both are chosen by the held-out log-likelihood (m
    from ``_MIX_GRID``, T by a bounded search), so two numbers, which a few dozen items can fit. It keeps the
    chosen label (argmax), and with two labels the order of confidences. The mix is there because vote shares (mv, wawa) give
    0 to labels nobody chose: with ten labels, dividing log 0 (floored) by T alone flattens every task at
    once, and ECE on music_genre went from 0.068 to 0.307; with the mix it went down (docs/benchmarks.md).
``isotonic``
    A non-decreasing step function from the top confidence to accuracy, where there are at least
    ``ISOTONIC_MIN_ITEMS`` held-out golden items. Each step estimates an accuracy from the items in it, so
    with fewer items the steps are few and noisy and it does worse than one temperature (Niculescu-Mizil and
    Caruana, 2005, saw the cross-over near a thousand calibration items); above that it also fixes
    miscalibration that is not a single stretch of the logits.
``uncalibrated``
    Fewer than ``MIN_ITEMS`` held-out golden items that had answers: the raw confidence is kept, and said so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from quality.aggregation import AggregationResult, aggregate

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

FOLDS: Final = 5
MIN_ITEMS: Final = 30  # held-out golden items with answers needed to fit anything
ISOTONIC_MIN_ITEMS: Final = 1000
ECE_BINS: Final = 15
_FLOOR: Final = 1e-12  # smallest probability whose log is taken, as in quality.aggregation
_LOG_T_RANGE: Final = (np.log(0.05), np.log(50.0))
_MIX_GRID: Final = (0.0, 0.01, 0.05, 0.1, 0.2, 0.3)

TEMPERATURE: Final = "temperature"
ISOTONIC: Final = "isotonic"
UNCALIBRATED: Final = "uncalibrated"


@dataclass(frozen=True)
class Calibration:
    """A fitted calibration and how well it did on held-out golden items.

    ``ece_before`` / ``ece_after`` are expected calibration errors (``ECE_BINS`` equal-width bins) of the raw
    and the calibrated top confidence on the held-out golden items, the "after" one cross-validated; None when
    uncalibrated with no items. ``bins_before`` / ``bins_after`` are the reliability diagram's rows:
    (bin low, bin high, items, mean confidence, accuracy), empty bins left out.
    """

    kind: str
    items: int
    temperature: float | None = None
    mix: float = 0.0
    isotonic_x: tuple[float, ...] = ()
    isotonic_y: tuple[float, ...] = ()
    ece_before: float | None = None
    ece_after: float | None = None
    bins_before: tuple[tuple[float, float, int, float, float], ...] = ()
    bins_after: tuple[tuple[float, float, int, float, float], ...] = ()
    # Mean log-probability of the true label on the held-out golden items, each under a calibration fitted on
    # the other folds (None when uncalibrated): what quality.selection compares methods by.
    log_likelihood: float | None = None

    def distribution(self, posterior: FloatArray) -> FloatArray:
        """The calibrated (n_labels, n_tasks) distribution: the top label gets apply()'s confidence; under a
        temperature the rest is the scaled posterior's, under isotonic it is shared evenly."""
        if self.kind == TEMPERATURE and self.temperature is not None:
            return temperature_scaled(posterior, self.temperature, mix=self.mix)
        if self.kind == ISOTONIC:
            k = posterior.shape[0]
            top = self.apply(posterior)
            spread = np.repeat(((1.0 - top) / max(k - 1, 1))[None, :], k, axis=0)
            spread[np.argmax(posterior, axis=0), np.arange(posterior.shape[1])] = top
            return spread
        return posterior

    def apply(self, posterior: FloatArray) -> FloatArray:
        """Calibrated top confidence per task from a (n_labels, n_tasks) posterior; the chosen label is the
        posterior's argmax either way. A task whose posterior is all zero (no answers) stays 0.0."""
        if self.kind == TEMPERATURE and self.temperature is not None:
            return temperature_scaled(posterior, self.temperature, mix=self.mix).max(axis=0)
        top = posterior.max(axis=0) if posterior.size else np.zeros(posterior.shape[1])
        if self.kind == ISOTONIC and self.isotonic_x:
            return np.where(top > 0, np.interp(top, self.isotonic_x, self.isotonic_y), 0.0)
        return top

    def as_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "items": self.items,
            "temperature": None if self.temperature is None else round(self.temperature, 6),
            "mix": self.mix,
            "ece_before": None if self.ece_before is None else round(self.ece_before, 6),
            "ece_after": None if self.ece_after is None else round(self.ece_after, 6),
            "log_likelihood": None if self.log_likelihood is None else round(self.log_likelihood, 6),
            "bins_before": [list(row) for row in self.bins_before],
            "bins_after": [list(row) for row in self.bins_after],
            "isotonic": [list(self.isotonic_x), list(self.isotonic_y)] if self.kind == ISOTONIC else None,
        }

    @staticmethod
    def from_json(value: Mapping[str, Any] | None) -> Calibration:
        """The inverse of as_json (a run's or a pool's stored calibration); None or {} is uncalibrated."""
        if not value:
            return Calibration(kind=UNCALIBRATED, items=0)
        iso = value.get("isotonic") or [[], []]

        def optional(name: str) -> float | None:
            found = value.get(name)
            return None if found is None else float(found)

        return Calibration(
            kind=str(value["kind"]),
            items=int(value.get("items", 0)),
            temperature=optional("temperature"),
            mix=float(value.get("mix", 0.0)),
            isotonic_x=tuple(float(x) for x in iso[0]),
            isotonic_y=tuple(float(y) for y in iso[1]),
            ece_before=optional("ece_before"),
            ece_after=optional("ece_after"),
            bins_before=tuple(tuple(row) for row in value.get("bins_before") or ()),
            bins_after=tuple(tuple(row) for row in value.get("bins_after") or ()),
            log_likelihood=optional("log_likelihood"),
        )


def gold_folds(n_gold: int, *, folds: int = FOLDS) -> IntArray:
    """Fold of each golden item, dealt in turn (item i to fold i % folds): fixed by the input order, so a
    rerun on the same answers gives the same calibration."""
    return np.arange(n_gold, dtype=np.int64) % folds


def held_out_posteriors(
    fit: Callable[[IntArray, IntArray], FloatArray],
    *,
    gold_task: IntArray,
    gold_label: IntArray,
    folds: int = FOLDS,
) -> FloatArray:
    """(n_labels, n_gold) posterior of each golden task from a fit that was not given its label.

    ``fit(gold_task, gold_label)`` runs the aggregation with those golden labels and returns its (n_labels,
    n_tasks) posterior."""
    fold = gold_folds(gold_task.size, folds=folds)
    out: FloatArray | None = None
    for k in range(min(folds, gold_task.size)):
        keep = fold != k
        posterior = fit(gold_task[keep], gold_label[keep])
        if out is None:
            out = np.zeros((posterior.shape[0], gold_task.size))
        out[:, ~keep] = posterior[:, gold_task[~keep]]
    return out if out is not None else np.zeros((0, 0))


def _log_posterior(posterior: FloatArray) -> FloatArray:
    return np.log(np.maximum(posterior, _FLOOR))


def _mixed(posterior: FloatArray, mix: float) -> FloatArray:
    return (1.0 - mix) * posterior + mix / max(posterior.shape[0], 1)


def temperature_scaled(posterior: FloatArray, temperature: float, *, mix: float = 0.0) -> FloatArray:
    """softmax(log((1 - mix) p + mix / k) / T) per column; a column of zeros (a task with no answers) stays
    zero."""
    logits = _log_posterior(_mixed(posterior, mix)) / temperature
    logits -= logits.max(axis=0, keepdims=True)
    scaled = np.exp(logits)
    scaled /= scaled.sum(axis=0, keepdims=True)
    scaled[:, posterior.sum(axis=0) == 0] = 0.0
    return scaled


def _temperature_nll(log_t: float, log_p: FloatArray, truth: IntArray) -> float:
    logits = log_p / np.exp(log_t)
    top = logits.max(axis=0)
    log_norm = top + np.log(np.exp(logits - top).sum(axis=0))
    return float((log_norm - logits[truth, np.arange(truth.size)]).sum())


def temperature_fit(posterior: FloatArray, truth: IntArray) -> tuple[float, float]:
    """(T, mix): the mix from _MIX_GRID and the T in [0.05, 50] that maximise the log-likelihood of the true
    labels under temperature_scaled."""
    # Imported here: scipy.optimize costs 0.4 s and 45 MiB at import, which web processes need not pay.
    from scipy.optimize import minimize_scalar

    best: tuple[float, float, float] | None = None
    for mix in _MIX_GRID:
        log_p = _log_posterior(_mixed(posterior, mix))
        found = minimize_scalar(
            _temperature_nll,
            bounds=_LOG_T_RANGE,
            args=(log_p, truth),
            method="bounded",
            options={"xatol": 1e-4},
        )
        if best is None or float(found.fun) < best[0]:
            best = (float(found.fun), float(np.exp(found.x)), mix)
    assert best is not None
    return best[1], best[2]


def isotonic_fit(confidence: FloatArray, correct: npt.NDArray[np.bool_]) -> tuple[FloatArray, FloatArray]:
    """A non-decreasing map from confidence to accuracy, as (distinct confidences, fitted accuracy)."""
    from scipy.optimize import isotonic_regression  # imported here, as in temperature_fit

    x, which, counts = np.unique(confidence, return_inverse=True, return_counts=True)
    mean_correct = np.bincount(which, weights=correct.astype(np.float64)) / counts
    fitted = isotonic_regression(mean_correct, weights=counts.astype(np.float64), increasing=True).x
    return x, np.asarray(fitted, dtype=np.float64)


def reliability(
    confidence: FloatArray, correct: npt.NDArray[np.bool_], *, bins: int = ECE_BINS
) -> tuple[float, tuple[tuple[float, float, int, float, float], ...]]:
    """Expected calibration error over ``bins`` equal-width bins of confidence (the share of items in a bin
    times the gap between its mean confidence and its accuracy, summed), and the bins' rows."""
    if confidence.size == 0:
        return 0.0, ()
    which = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    counts = np.bincount(which, minlength=bins)
    mean_conf = np.bincount(which, weights=confidence, minlength=bins)
    accuracy = np.bincount(which, weights=correct.astype(np.float64), minlength=bins)
    rows = []
    error = 0.0
    for b in np.flatnonzero(counts).tolist():
        n = int(counts[b])
        conf, acc = mean_conf[b] / n, accuracy[b] / n
        error += n / confidence.size * abs(conf - acc)
        rows.append(
            (round(b / bins, 6), round((b + 1) / bins, 6), n, round(float(conf), 6), round(float(acc), 6))
        )
    return float(error), tuple(rows)


def _fitted(kind: str, posterior: FloatArray, truth: IntArray) -> Calibration:
    if kind == ISOTONIC:
        top = posterior.max(axis=0)
        correct = np.argmax(posterior, axis=0) == truth
        x, y = isotonic_fit(top, correct)
        return Calibration(
            kind=ISOTONIC, items=truth.size, isotonic_x=tuple(x.tolist()), isotonic_y=tuple(y.tolist())
        )
    temperature, mix = temperature_fit(posterior, truth)
    return Calibration(kind=TEMPERATURE, items=truth.size, temperature=temperature, mix=mix)


def calibration_fit(posterior: FloatArray, truth: IntArray, *, folds: int = FOLDS) -> Calibration:
    """Fit a calibration on held-out golden posteriors (n_labels, n_items) and their true labels.

    Items with no answers (an all-zero column) carry no confidence to calibrate and are left out."""
    answered = posterior.sum(axis=0) > 0
    posterior, truth = posterior[:, answered], truth[answered]
    n = truth.size
    correct = np.argmax(posterior, axis=0) == truth if n else np.zeros(0, dtype=bool)
    raw = posterior.max(axis=0) if n else np.zeros(0)
    ece_before, bins_before = reliability(raw, correct)
    if n < MIN_ITEMS:
        return Calibration(
            kind=UNCALIBRATED,
            items=n,
            ece_before=ece_before if n else None,
            bins_before=bins_before,
        )
    kind = ISOTONIC if n >= ISOTONIC_MIN_ITEMS else TEMPERATURE
    # The "after" figures: each fold's items calibrated by a fit on the other folds only.
    fold = gold_folds(n, folds=folds)
    chosen = np.argmax(posterior, axis=0)
    after = np.zeros(n)
    log_true = np.zeros(n)
    for k in range(folds):
        held = fold == k
        columns = np.arange(int(held.sum()))
        distribution = _fitted(kind, posterior[:, ~held], truth[~held]).distribution(posterior[:, held])
        after[held] = distribution[chosen[held], columns]  # the chosen label's calibrated confidence
        log_true[held] = np.log(np.maximum(distribution[truth[held], columns], _FLOOR))
    ece_after, bins_after = reliability(after, correct)
    return replace(
        _fitted(kind, posterior, truth),
        ece_before=ece_before,
        ece_after=ece_after,
        bins_before=bins_before,
        bins_after=bins_after,
        log_likelihood=float(log_true.mean()),
    )


@dataclass(frozen=True)
class CalibratedResult:
    """An aggregation whose ``result.confidence`` is calibrated, the raw confidence beside it."""

    result: AggregationResult
    raw_confidence: FloatArray
    calibration: Calibration


def aggregate_calibrated(
    *,
    method: str,
    task_idx: IntArray,
    worker_idx: IntArray,
    label_idx: IntArray,
    n_tasks: int,
    n_workers: int,
    n_labels: int,
    gold_task_idx: IntArray,
    gold_label_idx: IntArray,
) -> CalibratedResult:
    """quality.aggregation.aggregate, then a calibration fitted on held-out golden items and applied.

    Costs one fit more per fold (``FOLDS``) when there are enough golden items with answers."""
    fit_with = partial(
        aggregate,
        method=method,
        task_idx=task_idx,
        worker_idx=worker_idx,
        label_idx=label_idx,
        n_tasks=n_tasks,
        n_workers=n_workers,
        n_labels=n_labels,
    )
    result = fit_with(gold_task_idx=gold_task_idx, gold_label_idx=gold_label_idx)
    gold_task_idx = np.asarray(gold_task_idx, dtype=np.int64)
    gold_label_idx = np.asarray(gold_label_idx, dtype=np.int64)
    answered = np.bincount(np.asarray(task_idx, dtype=np.int64), minlength=n_tasks)[gold_task_idx] > 0
    if answered.sum() < MIN_ITEMS:
        # Not worth the refits: too few items to fit, whatever they say.
        calibration = Calibration(kind=UNCALIBRATED, items=int(answered.sum()))
    else:
        gold_task, gold_label = gold_task_idx[answered], gold_label_idx[answered]

        def fit(kept_task: IntArray, kept_label: IntArray) -> FloatArray:
            refit = fit_with(gold_task_idx=kept_task, gold_label_idx=kept_label)
            assert refit.posterior is not None
            return refit.posterior

        held = held_out_posteriors(fit, gold_task=gold_task, gold_label=gold_label)
        calibration = calibration_fit(held, gold_label)
    assert result.posterior is not None
    confidence = calibration.apply(result.posterior)
    confidence[gold_task_idx] = 1.0  # known, not estimated
    confidence[result.labels < 0] = 0.0
    return CalibratedResult(
        result=replace(result, confidence=confidence),
        raw_confidence=result.confidence,
        calibration=calibration,
    )
