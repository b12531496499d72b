"""The aggregation method chosen by a pool's own golden items: pure numpy, no database.

No single method wins everywhere: on the shared data sets Dawid-Skene loses to majority vote by points on some
and wins by ten on others (docs/benchmarks.md). So a pool whose method is "auto" runs every method in
``CANDIDATES`` with its calibration (quality.calibration: each golden item scored by a fit that was not given
its label), and keeps the one whose calibrated posteriors give the golden items' true labels the highest mean
log-probability. The score is held out twice over: the method never saw the item's label, and the calibration
that turns its posterior into a probability was fitted on the other folds. It rewards a method that is right
and says how sure it is, not only one that is right more often. With too few golden items to score
(quality.calibration.MIN_ITEMS), the choice falls back to ``FALLBACK``, Dawid-Skene seeded with gold.

Only our own methods are candidates: crowd-kit's one-coin Dawid-Skene, GLAD and MMSR would each cost their fit
five times more per run (GLAD takes some 350 s on a million answers, see ../shared/notes/crowd-kit.md), and the
one-coin model collapsed below majority vote on two of the measured sets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from quality.calibration import UNCALIBRATED, CalibratedResult, IntArray, aggregate_calibrated

AUTO: Final = "auto"
CANDIDATES: Final = ("ds", "mv", "wawa")
FALLBACK: Final = "ds"


@dataclass(frozen=True)
class MethodChoice:
    """Which method a run used and why: each candidate's held-out score (mean log-probability of the true
    label per golden item; higher is better), the runner-up, and whether the choice fell back for want of
    golden items."""

    method: str
    scores: dict[str, float | None]
    runner_up: str | None
    fell_back: bool

    def as_json(self) -> dict[str, object]:
        return {
            "chosen": self.method,
            "runner_up": self.runner_up,
            "fell_back": self.fell_back,
            "scores": {name: None if s is None else round(s, 6) for name, s in self.scores.items()},
        }


@dataclass(frozen=True)
class ChosenAggregation:
    calibrated: CalibratedResult
    choice: MethodChoice


def aggregate_chosen(
    *,
    candidates: tuple[str, ...] = CANDIDATES,
    task_idx: IntArray,
    worker_idx: IntArray,
    label_idx: IntArray,
    n_tasks: int,
    n_workers: int,
    n_labels: int,
    gold_task_idx: IntArray,
    gold_label_idx: IntArray,
) -> ChosenAggregation:
    """Every candidate method, calibrated, and the best by its held-out log-likelihood on the golden items.

    Ties go to the earlier candidate (Dawid-Skene first). One candidate is simply run and scored."""
    runs: dict[str, CalibratedResult] = {}
    for method in candidates:
        runs[method] = aggregate_calibrated(
            method=method,
            task_idx=task_idx,
            worker_idx=worker_idx,
            label_idx=label_idx,
            n_tasks=n_tasks,
            n_workers=n_workers,
            n_labels=n_labels,
            gold_task_idx=gold_task_idx,
            gold_label_idx=gold_label_idx,
        )
        if len(candidates) > 1 and method == FALLBACK and runs[method].calibration.kind == UNCALIBRATED:
            # Too few golden items to score anything: the others would be scored on nothing too.
            return ChosenAggregation(
                calibrated=runs[method],
                choice=MethodChoice(method=FALLBACK, scores={FALLBACK: None}, runner_up=None, fell_back=True),
            )
    scores = {method: run.calibration.log_likelihood for method, run in runs.items()}

    # sorted() is stable: an equal score keeps the earlier candidate first.
    def score(method: str) -> float:
        found = scores[method]
        return float("-inf") if found is None else found

    ranked = sorted(candidates, key=lambda m: -score(m))
    best = ranked[0]
    return ChosenAggregation(
        calibrated=runs[best],
        choice=MethodChoice(
            method=best, scores=scores, runner_up=ranked[1] if len(ranked) > 1 else None, fell_back=False
        ),
    )
