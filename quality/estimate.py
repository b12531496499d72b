"""One task's label and confidence from its few answers, between two aggregation runs: pure numpy.

Dynamic overlap has to decide at submit time whether a task needs more answers: in a busy pool a task's
answers arrive within seconds of each other (the claim queue serves the most-answered tasks first), so
waiting for the next debounced run would buy the answers it was meant to save. This uses what the latest
run estimated (each worker's confusion matrix, or weight, and the class frequencies) and the task's
answers so far; the next run recomputes everything from scratch and corrects it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from quality.aggregation import skill_smoothed
from quality.calibration import Calibration

_FLOOR = 1e-12

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _pick(scores: FloatArray, calibration: Calibration | None) -> tuple[int, float]:
    total = float(scores.sum())
    if total <= 0:
        return -1, 0.0
    label = int(np.argmax(scores))  # first maximum: ties go to the lowest label index, as in aggregation
    if calibration is not None:
        return label, float(np.clip(calibration.apply((scores / total)[:, None])[0], 0.0, 1.0))
    return label, float(min(1.0, max(0.0, scores[label] / total)))


def estimate_vote(
    *,
    label_idx: IntArray,
    n_labels: int,
    weights: FloatArray | None = None,
    calibration: Calibration | None = None,
) -> tuple[int, float]:
    """Majority vote (weights None) or weighted vote (Wawa): the label and its share of the votes (calibrated
    by ``calibration`` where given, as the run calibrates its shares)."""
    if label_idx.size == 0:
        return -1, 0.0
    return _pick(np.bincount(label_idx, weights=weights, minlength=n_labels).astype(np.float64), calibration)


def wawa_weight(*, agreed: int, answers: int) -> float:
    """A worker's Wawa weight: smoothed agreement with the aggregate (0.5 for a worker not yet seen)."""
    return skill_smoothed(correct=agreed, answered=answers)


def estimate_dawid_skene(
    *,
    label_idx: IntArray,
    confusion: FloatArray,
    class_prior: FloatArray,
    calibration: Calibration | None = None,
) -> tuple[int, float]:
    """Posterior of the true label given the answers, each worker's confusion matrix and the class prior.

    `confusion[i]` is the (true x given) matrix of the worker who gave answer i. This is the E-step of
    Dawid-Skene for one task with the parameters held fixed.
    """
    if label_idx.size == 0:
        return -1, 0.0
    n_labels = class_prior.size
    if confusion.shape != (label_idx.size, n_labels, n_labels):
        raise ValueError(
            f"confusion must have shape {(label_idx.size, n_labels, n_labels)}, got {confusion.shape}"
        )
    given = confusion[np.arange(label_idx.size), :, label_idx]  # (answers, true): p(given | true)
    log_joint = np.log(np.maximum(class_prior, _FLOOR)) + np.log(np.maximum(given, _FLOOR)).sum(axis=0)
    return _pick(np.exp(log_joint - log_joint.max()), calibration)
