"""Benchmark of quality/aggregation.py: accuracy on real data sets and speed on a million answers.

    .venv/bin/python bench/aggregation.py               # data sets + synthetic timing
    .venv/bin/python bench/aggregation.py --prior-grid  # how the DS prior was chosen (gold share only)
    .venv/bin/python bench/aggregation.py --database-only  # a million answers from PostgreSQL to stored results

Database: the same million synthetic answers written to a fresh PostgreSQL database
(BENCH_AGGREGATION_DATABASE_URL, default .../fairlabel_bench_aggregation), then aggregated by
quality.services.pool_aggregate in fresh processes, as the pool's actor does: load, aggregate, store the
results, the workers' confusion matrices and the run. Wall time, its phases and peak RSS per run.

Accuracy: for every data set in ../shared/datasets, a fixed-seed 10% of the gold items is given
to the methods that take gold (ours, and crowd-kit's DawidSkene as an extra column); accuracy is
counted on the other 90% only. crowd-kit is imported here, never by quality/aggregation.py.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DATASETS = REPO_ROOT.parent / "shared" / "datasets"
if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO_ROOT))

import _common  # noqa: E402

from quality import aggregation  # noqa: E402
from quality.aggregation import DEFAULT_METHOD, aggregate, encode_answers, label_sort_key  # noqa: E402

SEED = 0
GOLD_SHARE = 0.1


@dataclass(frozen=True)
class Dataset:
    name: str
    encoded: aggregation.EncodedAnswers
    gold_task: np.ndarray  # task codes with a gold label, in gold.csv order
    gold_label: np.ndarray
    given: np.ndarray  # positions in gold_task given to the methods (fixed-seed 10%)
    scored: np.ndarray  # the other 90%, where accuracy is counted

    def arrays(self, given: np.ndarray | None = None) -> dict[str, Any]:
        """The answers and the golden items at positions `given` (none if None), as the aggregations take them."""
        encoded = self.encoded
        return {
            "task_idx": encoded.task_idx,
            "worker_idx": encoded.worker_idx,
            "label_idx": encoded.label_idx,
            "n_tasks": len(encoded.tasks),
            "n_workers": len(encoded.workers),
            "n_labels": len(encoded.labels),
            "gold_task_idx": None if given is None else self.gold_task[given],
            "gold_label_idx": None if given is None else self.gold_label[given],
        }


def load_dataset(folder: Path) -> Dataset:
    with (folder / "answers.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    with (folder / "gold.csv").open(newline="") as f:
        gold = {row["task"]: row["label"] for row in csv.DictReader(f)}
    labels = sorted({row["label"] for row in rows} | set(gold.values()), key=label_sort_key)
    encoded = encode_answers(
        tasks=[r["task"] for r in rows],
        workers=[r["worker"] for r in rows],
        labels=[r["label"] for r in rows],
        label_order=labels,
    )
    task_code = {task: i for i, task in enumerate(encoded.tasks)}
    label_code = {label: i for i, label in enumerate(labels)}
    golden = [(task_code[task], label_code[label]) for task, label in gold.items() if task in task_code]
    gold_task = np.array([t for t, _ in golden], dtype=np.int64)
    gold_label = np.array([g for _, g in golden], dtype=np.int64)
    order = np.random.default_rng(SEED).permutation(gold_task.size)
    n_given = round(GOLD_SHARE * gold_task.size)
    return Dataset(folder.name, encoded, gold_task, gold_label, order[:n_given], order[n_given:])


def load_datasets() -> list[Dataset]:
    return [
        load_dataset(folder) for folder in sorted(DATASETS.iterdir()) if (folder / "answers.csv").is_file()
    ]


def ours(method: str, data: Dataset, given: np.ndarray | None) -> np.ndarray:
    result = aggregate(method=method, **data.arrays(given))
    return np.asarray(result.labels)


def ours_auto(data: Dataset) -> np.ndarray:
    """The method a pool set to "auto" would choose with the given 10% of gold (quality.selection)."""
    from quality.selection import aggregate_chosen

    chosen = aggregate_chosen(**data.arrays(data.given))
    print(f"  {data.name}: auto chose {chosen.choice.method} (scores {chosen.choice.as_json()['scores']})")
    return np.asarray(chosen.calibrated.result.labels)


def crowdkit_labels(model: Any, data: Dataset, given: np.ndarray | None = None) -> np.ndarray:
    import pandas as pd  # type: ignore[import-untyped]

    encoded = data.encoded
    frame = pd.DataFrame({"task": encoded.task_idx, "worker": encoded.worker_idx, "label": encoded.label_idx})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if given is None:
            labels = model.fit_predict(frame)
        else:
            true_labels = pd.Series(data.gold_label[given], index=data.gold_task[given])
            labels = model.fit_predict(frame, true_labels=true_labels)
    return np.asarray(labels.reindex(range(len(encoded.tasks))).fillna(-1).to_numpy(), dtype=np.int64)


COLUMNS = (
    "ours ds+gold",
    "ours ds",
    "ours mv",
    "ours wawa",
    "ours auto",
    "ck MV",
    "ck DS",
    "ck DS+gold",
    "ck OneCoinDS",
)


def bench_datasets() -> list[dict[str, Any]]:
    """Accuracy on the 90% of gold not given, per data set and method."""
    from crowdkit.aggregation import DawidSkene, MajorityVote, OneCoinDawidSkene  # type: ignore[import-untyped]

    methods: dict[str, Callable[[Dataset], np.ndarray]] = {
        "ours ds+gold": lambda d: ours(DEFAULT_METHOD, d, d.given),
        "ours ds": lambda d: ours("ds", d, None),
        "ours mv": lambda d: ours("mv", d, d.given),
        "ours wawa": lambda d: ours("wawa", d, d.given),
        "ours auto": lambda d: ours_auto(d),
        "ck MV": lambda d: crowdkit_labels(MajorityVote(), d),
        "ck DS": lambda d: crowdkit_labels(DawidSkene(n_iter=100), d),
        "ck DS+gold": lambda d: crowdkit_labels(DawidSkene(n_iter=100), d, d.given),
        "ck OneCoinDS": lambda d: crowdkit_labels(OneCoinDawidSkene(n_iter=100), d),
    }
    rows = []
    for data in load_datasets():
        scored_task, scored_truth = data.gold_task[data.scored], data.gold_label[data.scored]
        row: dict[str, Any] = {
            "set": data.name,
            "tasks": len(data.encoded.tasks),
            "answers": data.encoded.task_idx.size,
            "labels": len(data.encoded.labels),
            "scored": data.scored.size,
        }
        for column, method in methods.items():
            row[column] = float((method(data)[scored_task] == scored_truth).mean())
        rows.append(row)
    return rows


def print_datasets(rows: list[dict[str, Any]]) -> None:
    print(
        f"Accuracy on the 90% of gold items not given (seed {SEED}; 10% given to '+gold' columns, mv, wawa)\n"
    )
    head = ["set", "tasks", "answers", "labels", "scored", *COLUMNS, "ours ds+gold - ck DS"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for row in rows:
        cells = [row["set"], str(row["tasks"]), str(row["answers"]), str(row["labels"]), str(row["scored"])]
        cells += [f"{row[c]:.3f}" for c in COLUMNS]
        cells.append(f"{(row['ours ds+gold'] - row['ck DS']) * 100:+.1f} pt")
        print("| " + " | ".join(cells) + " |")
    means = [f"{np.mean([row[c] for row in rows]):.3f}" for c in COLUMNS]
    diff = np.mean([row["ours ds+gold"] - row["ck DS"] for row in rows]) * 100
    print("| mean | | | | | " + " | ".join(means) + f" | {diff:+.2f} pt |")
    worst = min(rows, key=lambda row: row["ours ds+gold"] - row["ck DS"])
    print(
        f"\nworst set for ours ds+gold vs ck DS: {worst['set']} "
        f"({(worst['ours ds+gold'] - worst['ck DS']) * 100:+.1f} pt; target: no worse than -0.5 pt)"
    )


def synthetic(
    *, seed: int = SEED, n_tasks: int = 200_000, overlap: int = 5, n_workers: int = 2_000, n_labels: int = 4
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Answers (task, worker, label) in random order and the truth; worker accuracy ~ Beta(8, 2),
    errors uniform over the other labels, distinct workers per task."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_labels, n_tasks)
    accuracy = rng.beta(8, 2, n_workers)
    workers = rng.integers(0, n_workers, (n_tasks, overlap))
    while True:
        ordered = np.sort(workers, axis=1)
        repeated = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
        if not repeated.any():
            break
        workers[repeated] = rng.integers(0, n_workers, (int(repeated.sum()), overlap))
    task = np.repeat(np.arange(n_tasks), overlap)
    worker = workers.reshape(-1)
    correct = rng.random(task.size) < accuracy[worker]
    wrong = (truth[task] + rng.integers(1, n_labels, task.size)) % n_labels
    label = np.where(correct, truth[task], wrong)
    order = rng.permutation(task.size)
    return task[order], worker[order], label[order], truth


def bench_synthetic() -> list[dict[str, Any]]:
    """Time and peak traced memory on 1,000,000 synthetic answers, ours vs crowd-kit."""
    task, worker, label, truth = synthetic()
    n_tasks, n_workers, n_labels = truth.size, int(worker.max()) + 1, int(label.max()) + 1
    rows = []

    def measure(name: str, run: Callable[[], tuple[np.ndarray, int | None]], repeat: int) -> None:
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            labels, iterations = run()
            times.append(time.perf_counter() - start)
        tracemalloc.start()
        run()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rows.append(
            {
                "method": name,
                "seconds": min(times),
                "seconds_max": max(times),
                "peak_mb": peak / 2**20,
                "accuracy": float((labels == truth).mean()),
                "iterations": iterations,
            }
        )

    def run_ours(method: str) -> Callable[[], tuple[np.ndarray, int | None]]:
        def run() -> tuple[np.ndarray, int | None]:
            result = aggregate(
                method=method,
                task_idx=task,
                worker_idx=worker,
                label_idx=label,
                n_tasks=n_tasks,
                n_workers=n_workers,
                n_labels=n_labels,
            )
            return np.asarray(result.labels), result.iterations

        return run

    for method in ("ds", "mv", "wawa"):
        measure(f"ours {method}", run_ours(method), repeat=3)
    # The worst case of the stopping rule: never converging, so running to the iteration cap.
    saved_tol = aggregation.DS_TOL
    aggregation.DS_TOL = -np.inf  # type: ignore[misc]
    try:
        measure(
            f"ours ds, forced to the cap of {aggregation.DS_MAX_ITERATIONS} iterations",
            run_ours("ds"),
            repeat=1,
        )
    finally:
        aggregation.DS_TOL = saved_tol  # type: ignore[misc]

    import pandas as pd
    from crowdkit.aggregation import DawidSkene, MajorityVote

    frame = pd.DataFrame({"task": task, "worker": worker, "label": label})

    def run_crowdkit(model: Any) -> Callable[[], tuple[np.ndarray, int | None]]:
        def run() -> tuple[np.ndarray, int | None]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                labels = model.fit_predict(frame).reindex(range(n_tasks)).to_numpy()
            return np.asarray(labels), len(getattr(model, "loss_history_", [])) or None

        return run

    measure("ck MajorityVote", run_crowdkit(MajorityVote()), repeat=1)
    measure("ck DawidSkene", run_crowdkit(DawidSkene(n_iter=100)), repeat=1)
    # Import cost in a fresh interpreter (here it is already imported).
    code = "import time; t = time.perf_counter(); import crowdkit.aggregation; print(time.perf_counter() - t)"
    output = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    rows.append({"method": "import crowdkit.aggregation (fresh process)", "seconds": float(output)})
    return rows


def print_synthetic(rows: list[dict[str, Any]]) -> None:
    print("\n1,000,000 answers: 200,000 tasks x 5, 2,000 workers (accuracy ~ Beta(8,2)), 4 labels, no gold\n")
    print("| method | seconds (best) | seconds (worst) | peak traced MB | iterations | accuracy |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        if "accuracy" not in row:
            print(f"| {row['method']} | {row['seconds']:.2f} | | | | |")
            continue
        iterations = "" if row["iterations"] is None else str(row["iterations"])
        print(
            f"| {row['method']} | {row['seconds']:.2f} | {row['seconds_max']:.2f} | {row['peak_mb']:.0f} "
            f"| {iterations} | {row['accuracy']:.4f} |"
        )
    print(
        f"\nprocess peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB "
        "(includes crowd-kit, pandas and the data)"
    )


def bench_prior_grid(repeats: int = 50) -> None:
    """How DS_PSEUDO_CORRECT / DS_PSEUDO_ANY were chosen, without looking at the 90% scored in
    bench_datasets: split only the given 10% of gold in halves many times, clamp one half, score
    on the other half, and compare with crowd-kit's DawidSkene on the same half."""
    from crowdkit.aggregation import DawidSkene

    sets = load_datasets()
    reference = {data.name: crowdkit_labels(DawidSkene(n_iter=100), data) for data in sets}
    saved = (aggregation.DS_PSEUDO_CORRECT, aggregation.DS_PSEUDO_ANY)  # type: ignore[misc]
    print("| pseudo correct | pseudo any | " + " | ".join(d.name for d in sets) + " | mean diff | min diff |")
    print("|---|---|" + "---|" * len(sets) + "---|---|")
    try:
        for pseudo_any in (0.0, 0.05, 0.1, 0.25, 0.5):
            for pseudo_correct in (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0):
                if pseudo_any == 0.0 and pseudo_correct == 0.0:
                    continue
                aggregation.DS_PSEUDO_CORRECT = pseudo_correct  # type: ignore[misc]
                aggregation.DS_PSEUDO_ANY = pseudo_any  # type: ignore[misc]
                cells, diffs = [], []
                for data in sets:
                    ours_correct = theirs_correct = 0
                    for r in range(repeats):
                        halves = np.random.default_rng(1000 + r).permutation(data.given)
                        clamp, score = halves[: halves.size // 2], halves[halves.size // 2 :]
                        truth = data.gold_label[score]
                        ours_correct += int((ours("ds", data, clamp)[data.gold_task[score]] == truth).sum())
                        theirs_correct += int((reference[data.name][data.gold_task[score]] == truth).sum())
                    n = repeats * (data.given.size - data.given.size // 2)
                    cells.append(f"{ours_correct / n:.3f}")
                    diffs.append((ours_correct - theirs_correct) / n)
                print(
                    f"| {pseudo_correct} | {pseudo_any} | "
                    + " | ".join(cells)
                    + f" | {np.mean(diffs) * 100:+.2f} "
                    f"| {min(diffs) * 100:+.2f} |",
                    flush=True,
                )
    finally:
        aggregation.DS_PSEUDO_CORRECT, aggregation.DS_PSEUDO_ANY = saved  # type: ignore[misc]


# ------------------------------------------------------------------------------------------------------
# Confidence calibration: how often a label with a given confidence is right.

CALIBRATION_BINS = (0.5, 0.8, 0.9, 0.95, 0.99)


def bench_calibration() -> list[dict[str, Any]]:
    """Per data set and method (10% gold given, as above): accuracy on the scored gold among tasks whose
    confidence is at least each threshold. Dynamic overlap stops a task at target_confidence, so this says
    what a target buys."""
    rows = []
    for data in load_datasets():
        scored_task, truth = data.gold_task[data.scored], data.gold_label[data.scored]
        for method in ("ds", "mv", "wawa"):
            result = aggregate(method=method, **data.arrays(data.given))
            confidence = result.confidence[scored_task]
            right = result.labels[scored_task] == truth
            row: dict[str, Any] = {
                "set": data.name,
                "method": method,
                "mean_confidence": float(confidence.mean()),
            }
            row["accuracy"] = float(right.mean())
            for low in CALIBRATION_BINS:
                chosen = confidence >= low
                row[low] = (int(chosen.sum()), float(right[chosen].mean()) if chosen.any() else float("nan"))
            rows.append(row)
    return rows


def bench_calibrated() -> list[dict[str, Any]]:
    """Per data set and method, 10% of gold given as above: the expected calibration error (15 bins) on the
    other 90% of the raw confidence and of the one a pool stores (quality.calibration, fitted on the given
    gold only, each given item held out of the fit that scored it), and the run's own cross-validated figure."""
    from quality.calibration import aggregate_calibrated, reliability

    rows = []
    for data in load_datasets():
        scored_task, truth = data.gold_task[data.scored], data.gold_label[data.scored]
        for method in ("ds", "mv", "wawa"):
            started = time.perf_counter()
            run = aggregate_calibrated(method=method, **data.arrays(data.given))
            seconds = time.perf_counter() - started
            right = run.result.labels[scored_task] == truth
            calibration = run.calibration
            rows.append(
                {
                    "set": data.name,
                    "method": method,
                    "scored": int(scored_task.size),
                    "kind": calibration.kind,
                    "items": calibration.items,
                    "temperature": calibration.temperature,
                    "mix": calibration.mix,
                    "ece_raw": reliability(run.raw_confidence[scored_task], right)[0],
                    "ece_stored": reliability(run.result.confidence[scored_task], right)[0],
                    "mean_stored": float(run.result.confidence[scored_task].mean()),
                    "accuracy": float(right.mean()),
                    "cv_before": calibration.ece_before,
                    "cv_after": calibration.ece_after,
                    "seconds": seconds,
                }
            )
    return rows


def print_calibrated(rows: list[dict[str, Any]]) -> None:
    print("\nCalibrated confidence: expected calibration error (15 bins) on the scored 90% of gold\n")
    head = [
        "set",
        "method",
        "calibration (on the given 10%)",
        "ECE raw",
        "ECE stored",
        "mean stored",
        "accuracy",
        "run's own CV figure",
        "time",
    ]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for row in rows:
        how = row["kind"]
        if row["kind"] == "temperature":
            how = f"T {row['temperature']:.2f}, mix {row['mix']:g} ({row['items']} items)"
        elif row["kind"] == "uncalibrated":
            how = f"uncalibrated ({row['items']} items)"
        cv = "-" if row["cv_after"] is None else f"{row['cv_before']:.3f} → {row['cv_after']:.3f}"
        cells = [
            row["set"],
            row["method"],
            how,
            f"{row['ece_raw']:.3f}",
            f"{row['ece_stored']:.3f}",
            f"{row['mean_stored']:.3f}",
            f"{row['accuracy']:.3f}",
            cv,
            f"{row['seconds'] * 1000:.0f} ms",
        ]
        print("| " + " | ".join(cells) + " |")


REPLAY_TARGETS = (0.9, 0.95)
REPLAY_MIN_OVERLAP = 2


def bench_overlap_replay() -> list[dict[str, Any]]:
    """Dynamic overlap on the data sets, replayed: what stopping each task at a target confidence would have
    saved, against every answer the set has (its fixed overlap), 10% of gold given as above.

    As the platform does between runs: a Dawid-Skene run on every answer (with its calibration on the given
    gold) supplies the workers' confusion matrices and the class prior; each regular task's answers then
    arrive in a seeded random order, and after each one from the REPLAY_MIN_OVERLAP-th on, the submit-time
    estimate (quality.estimate, calibrated) stops the task once it reaches the target. A last run on the
    answers kept gives the labels, as the pool's next run would; accuracy is on the scored 90% of gold. The
    worker estimates come from the whole set, which a live pool only has at the end: the figures are what the
    rule saves once the workers are known, not from a cold start. Given golden items keep all their answers."""
    from quality.calibration import aggregate_calibrated
    from quality.estimate import estimate_dawid_skene

    rows = []
    for data in load_datasets():
        encoded = data.encoded
        n_tasks, n_workers, k = len(encoded.tasks), len(encoded.workers), len(encoded.labels)
        common = {"method": "ds", "n_tasks": n_tasks, "n_workers": n_workers, "n_labels": k}
        gold = {"gold_task_idx": data.gold_task[data.given], "gold_label_idx": data.gold_label[data.given]}
        task, worker, label = encoded.task_idx, encoded.worker_idx, encoded.label_idx
        full = aggregate_calibrated(task_idx=task, worker_idx=worker, label_idx=label, **common, **gold)
        confusion = full.result.confusion
        assert confusion is not None
        labelled = full.result.labels[full.result.labels >= 0]
        prior = (np.bincount(labelled, minlength=k) + 1.0) / (labelled.size + k)
        scored_task, truth = data.gold_task[data.scored], data.gold_label[data.scored]
        fixed_right = float((full.result.labels[scored_task] == truth).mean())
        given = np.zeros(n_tasks, dtype=bool)
        given[data.gold_task[data.given]] = True
        order = np.argsort(task, kind="stable")
        starts = np.searchsorted(task[order], np.arange(n_tasks + 1))
        overlap = float(np.bincount(task, minlength=n_tasks).mean())
        for target in REPLAY_TARGETS:
            rng = np.random.default_rng(SEED)
            kept_rows: list[np.ndarray] = []
            for t in range(n_tasks):
                rows_of_task = order[starts[t] : starts[t + 1]]
                if given[t]:
                    kept_rows.append(rows_of_task)
                    continue
                shuffled = rows_of_task[rng.permutation(rows_of_task.size)]
                stop = shuffled.size
                for n in range(REPLAY_MIN_OVERLAP, shuffled.size):
                    _, confidence = estimate_dawid_skene(
                        label_idx=label[shuffled[:n]],
                        confusion=confusion[worker[shuffled[:n]]],
                        class_prior=prior,
                        calibration=full.calibration,
                    )
                    if confidence >= target:
                        stop = n
                        break
                kept_rows.append(shuffled[:stop])
            kept = np.concatenate(kept_rows)
            again = aggregate_calibrated(
                task_idx=task[kept], worker_idx=worker[kept], label_idx=label[kept], **common, **gold
            )
            rows.append(
                {
                    "set": data.name,
                    "overlap": overlap,
                    "target": target,
                    "calibration": full.calibration.kind,
                    "answers_fixed": int(task.size),
                    "answers_kept": int(kept.size),
                    "accuracy_fixed": fixed_right,
                    "accuracy_kept": float((again.result.labels[scored_task] == truth).mean()),
                }
            )
    return rows


def print_overlap_replay(rows: list[dict[str, Any]]) -> None:
    print(f"\nDynamic overlap replayed (min_overlap {REPLAY_MIN_OVERLAP}, calibrated Dawid-Skene estimate)\n")
    head = [
        "set",
        "mean overlap",
        "target",
        "calibration",
        "answers: fixed -> kept",
        "saved",
        "accuracy: fixed -> kept",
    ]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for row in rows:
        saved = 1 - row["answers_kept"] / row["answers_fixed"]
        cells = [
            row["set"],
            f"{row['overlap']:.1f}",
            f"{row['target']}",
            row["calibration"],
            f"{row['answers_fixed']:,} -> {row['answers_kept']:,}",
            f"{saved * 100:.0f}%",
            f"{row['accuracy_fixed']:.3f} -> {row['accuracy_kept']:.3f}",
        ]
        print("| " + " | ".join(cells) + " |")


def print_calibration(rows: list[dict[str, Any]]) -> None:
    print("\nCalibration: accuracy (and tasks) among scored gold items with confidence >= threshold\n")
    head = ["set", "method", "mean confidence", "accuracy", *(f">= {low}" for low in CALIBRATION_BINS)]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for row in rows:
        cells = [row["set"], row["method"], f"{row['mean_confidence']:.3f}", f"{row['accuracy']:.3f}"]
        cells += [f"{row[low][1]:.3f} ({row[low][0]})" for low in CALIBRATION_BINS]
        print("| " + " | ".join(cells) + " |")


# ------------------------------------------------------------------------------------------------------
# From the database to stored results: the whole run a pool's aggregation actor does.

BENCH_DATABASE_URL = os.environ.get("BENCH_AGGREGATION_DATABASE_URL") or _common.bench_database_url(
    "aggregation"
)


def _setup_django(url: str) -> None:
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    _common.setup_django(url)


def db_setup(url: str = BENCH_DATABASE_URL, *, gold_every: int = 0, method: str = "ds") -> dict[str, Any]:
    """A fresh database holding one pool with the synthetic million answers (same generator and seed as
    bench_synthetic), written with COPY and INSERT ... SELECT: the ORM would take longer than what is measured.

    gold_every N > 0 makes every Nth task golden (its true label known, its answers golden answers), so the
    run calibrates; method is the pool's aggregation_method."""
    _common.recreate_database(url)
    _setup_django(url)
    from django.core.management import call_command
    from django.db import connection, transaction

    from accounts.models import Role, User
    from tasks.models import Pool, PoolStatus

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    task, worker, label, truth = synthetic()
    n_tasks, n_workers = truth.size, int(worker.max()) + 1
    requester = User.objects.create(username="bench-requester", role=Role.REQUESTER)
    labels = [str(i) for i in range(int(label.max()) + 1)]
    pool = Pool.objects.create(
        requester=requester,
        name="bench: a million answers",
        labels=labels,
        reward="0.01",
        overlap=5,
        golden_rate=0,
        status=PoolStatus.COMPLETED,
        aggregation_method=method,
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email,
                                       is_staff, is_active, date_joined, role, public_id)
            SELECT '!', false, 'bench-worker-' || i, '', '', '', false, true, now(), 'worker', gen_random_uuid()
            FROM generate_series(0, %s - 1) AS i
            """,
            [n_workers],
        )
        cursor.execute(
            """
            INSERT INTO tasks_task (pool_id, data, golden_label, external_id, max_answers, answers_count, remaining)
            SELECT %s, jsonb_build_object('n', i), NULL, 't' || i, 5, 5, 0 FROM generate_series(0, %s - 1) AS i
            """,
            [pool.pk, n_tasks],
        )
        cursor.execute("CREATE TEMP TABLE bench_in (task_no int4, worker_no int4, label int2, seconds int4)")
        seconds = np.random.default_rng(SEED).integers(2_000, 30_000, task.size)
        with cursor.cursor.copy("COPY bench_in FROM STDIN") as copy:
            for start in range(0, task.size, 100_000):
                end = start + 100_000
                rows = np.column_stack(
                    [task[start:end], worker[start:end], label[start:end], seconds[start:end]]
                )
                copy.write("".join(f"{a}\t{b}\t{c}\t{d}\n" for a, b, c, d in rows.tolist()))
        cursor.execute(
            """
            CREATE TEMP TABLE bench_ids AS
            SELECT i.task_no, i.label, i.seconds, t.id AS task_id, u.id AS worker_id
            FROM bench_in i
            JOIN tasks_task t ON t.pool_id = %s AND t.external_id = 't' || i.task_no
            JOIN accounts_user u ON u.username = 'bench-worker-' || i.worker_no
            """,
            [pool.pk],
        )
        cursor.execute(
            """
            INSERT INTO tasks_assignment (task_id, pool_id, worker_id, status, is_golden, created_at, expires_at)
            SELECT task_id, %s, worker_id, 'submitted', false, now(), now() FROM bench_ids
            """,
            [pool.pk],
        )
        cursor.execute(
            """
            INSERT INTO tasks_answer (assignment_id, task_id, pool_id, worker_id, label, submitted_at,
                                      duration_ms, is_golden, correct, flagged_fast, status, reward,
                                      reviewed_at, reject_reason)
            SELECT a.id, b.task_id, %s, b.worker_id, b.label::text, now(), b.seconds, false, NULL, false,
                   'accepted', 0.01, NULL, ''
            FROM bench_ids b JOIN tasks_assignment a ON a.task_id = b.task_id AND a.worker_id = b.worker_id
            """,
            [pool.pk],
        )
        if gold_every:
            cursor.execute("CREATE TEMP TABLE bench_truth (task_no int4, label text)")
            with cursor.cursor.copy("COPY bench_truth FROM STDIN") as copy:
                copy.write(
                    "".join(f"{i}\t{t}\n" for i, t in enumerate(truth.tolist()) if i % gold_every == 0)
                )
            cursor.execute(
                """
                UPDATE tasks_task t SET golden_label = b.label FROM bench_truth b
                WHERE t.pool_id = %s AND t.external_id = 't' || b.task_no
                """,
                [pool.pk],
            )
            cursor.execute(
                """
                UPDATE tasks_answer a SET is_golden = true, correct = (a.label = t.golden_label)
                FROM tasks_task t WHERE a.task_id = t.id AND t.pool_id = %s AND t.golden_label IS NOT NULL
                """,
                [pool.pk],
            )
        cursor.execute("SELECT count(*) FROM tasks_answer WHERE pool_id = %s", [pool.pk])
        (answers,) = cursor.fetchone()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {
        "pool_id": pool.pk,
        "answers": answers,
        "tasks": n_tasks,
        "workers": n_workers,
        "labels": len(labels),
        "setup_seconds": time.perf_counter() - started,
    }


def _rss_mb(field: str = "VmRSS") -> float:
    """This process's resident memory (VmRSS) or its peak (VmHWM), in MB. Not getrusage's ru_maxrss: Linux
    carries that over exec, so a child of the (large) parent bench process would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def db_run(pool_id: int, url: str = BENCH_DATABASE_URL) -> dict[str, Any]:
    """One aggregation run of the pool, as the actor does it, in this (fresh) process: wall time and memory."""
    _setup_django(url)
    from django.db import connection

    from quality.models import TaskResult
    from quality.services import pool_aggregate
    from tasks.models import Pool

    pool = Pool.objects.get(pk=pool_id)
    connection.ensure_connection()
    import quality.loading  # noqa: F401  (imported before the clock starts, as in a running worker)

    before = _rss_mb()
    start = time.perf_counter()
    run = pool_aggregate(pool=pool)
    seconds = time.perf_counter() - start
    peak = _rss_mb("VmHWM")
    stored = dict(TaskResult.objects.filter(pool=pool).values_list("task__external_id", "label"))
    return {
        "seconds": seconds,
        "load_ms": run.load_ms,
        "compute_ms": run.compute_ms,
        "save_ms": run.save_ms,
        "iterations": run.iterations,
        "answers": run.answers,
        "tasks": run.tasks,
        "workers": run.workers,
        "rss_before_mb": before,
        "peak_rss_mb": peak,
        "stored_labels": {key[1:]: int(value) for key, value in stored.items()},
    }


def _clear_results(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE quality_taskresult, quality_workerconfusion, quality_aggregationrun, "
            "quality_poolaggregationstate"
        )
        conn.execute("VACUUM ANALYZE quality_taskresult")


def _existing_pool(url: str) -> dict[str, Any] | None:
    import psycopg

    try:
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT p.id, count(a.id), count(DISTINCT a.task_id), count(DISTINCT a.worker_id) "
                "FROM tasks_pool p JOIN tasks_answer a ON a.pool_id = p.id "
                "WHERE p.name = 'bench: a million answers' GROUP BY p.id"
            ).fetchone()
    except psycopg.Error:
        return None
    if row is None:
        return None
    return {"pool_id": row[0], "answers": row[1], "tasks": row[2], "workers": row[3], "labels": 4}


# (kind, clear the stored results first): the first run inserts every result; "again" finds them all stored.
DB_RUNS = (("first", True), ("again", False), ("first", True), ("again", False))


def bench_database(*, reuse: bool = False, gold_every: int = 0, method: str = "ds") -> dict[str, Any]:
    """Set the database up once, then aggregate the pool in fresh processes (as a worker would), each after
    waiting for the machine to be quiet: twice from empty results (every row inserted) and twice again
    (every row already stored). Reports each run's wall time, its phases and peak memory."""

    setup = _existing_pool(BENCH_DATABASE_URL) if reuse else None
    if setup is None:
        setup = db_setup(BENCH_DATABASE_URL, gold_every=gold_every, method=method)
        print(
            f"set up {setup['answers']:,} answers on {setup['tasks']:,} tasks by {setup['workers']:,} workers "
            f"in {setup['setup_seconds']:.0f} s",
            flush=True,
        )
    truth = synthetic()[3]
    results = []
    for kind, clear in DB_RUNS:
        if clear:
            _clear_results(BENCH_DATABASE_URL)
        quiet = _common.wait_until_quiet(busy_below=0.3, give_up_after=900)
        busy_before, started = _common.machine_cpu_seconds(), time.monotonic()
        output = subprocess.run(
            [sys.executable, __file__, "--db-run", str(setup["pool_id"])],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        busy = (_common.machine_cpu_seconds() - busy_before) / (time.monotonic() - started)
        row = json.loads(output.strip().splitlines()[-1])
        stored = row.pop("stored_labels")
        labels = np.full(truth.size, -1)
        for task_no, value in stored.items():
            labels[int(task_no)] = value
        regular = np.arange(truth.size) % gold_every != 0 if gold_every else np.ones(truth.size, dtype=bool)
        accuracy = float((labels[regular] == truth[regular]).mean())  # golden tasks have no stored result
        row.update(kind=kind, accuracy=accuracy, idle_before=quiet, busy_during=busy)
        results.append(row)
        print(f"  run {len(results)} ({kind}): {row['seconds']:.2f} s", flush=True)
    return {"setup": setup, "runs": results, "gold_every": gold_every, "method": method}


def print_database(report: dict[str, Any]) -> None:
    setup = report["setup"]
    gold = f"every {report['gold_every']}th task golden" if report["gold_every"] else "no golden tasks"
    print(
        f"\nFrom the database to stored results: {setup['answers']:,} answers, {setup['tasks']:,} tasks x 5, "
        f"{setup['workers']:,} workers, {setup['labels']} labels, seed {SEED}, PostgreSQL, pool method "
        f"{report['method']}, {gold} (accuracy over the regular tasks)\n"
    )
    print(
        "| run | wall s | load s | aggregate s | save s | EM iterations | peak RSS MB | RSS before MB "
        "| machine busy during (cores) | accuracy of stored labels |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for i, row in enumerate(report["runs"], start=1):
        kind = "first: every result inserted" if row["kind"] == "first" else "again: every result stored"
        print(
            f"| {i} {kind} | {row['seconds']:.2f} | {row['load_ms'] / 1000:.2f} | {row['compute_ms'] / 1000:.2f} "
            f"| {row['save_ms'] / 1000:.2f} | {row['iterations']} | {row['peak_rss_mb']:.0f} "
            f"| {row['rss_before_mb']:.0f} | {row['busy_during']:.2f} | {row['accuracy']:.4f} |"
        )
    worst = max(row["seconds"] for row in report["runs"])
    print(f"\nworst wall time {worst:.2f} s (target: under 15 s on the 2-core machine)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--prior-grid", action="store_true", help="only the prior selection on the given gold"
    )
    parser.add_argument("--no-synthetic", action="store_true", help="skip the million-answer timing")
    parser.add_argument(
        "--no-database", action="store_true", help="skip the database-to-stored-results timing (PostgreSQL)"
    )
    parser.add_argument(
        "--database-only", action="store_true", help="only the database-to-stored-results timing"
    )
    parser.add_argument(
        "--reuse-database", action="store_true", help="keep the bench database if it already holds the pool"
    )
    parser.add_argument(
        "--calibration-only", action="store_true", help="only the calibrated confidence on the data sets"
    )
    parser.add_argument(
        "--gold-every",
        type=int,
        default=0,
        metavar="N",
        help="database part: every Nth task golden (a database of its own, aggregation_gold)",
    )
    parser.add_argument("--pool-method", default="ds", help="database part: the pool's aggregation_method")
    parser.add_argument("--db-run", type=int, metavar="POOL_ID", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.gold_every and "BENCH_AGGREGATION_DATABASE_URL" not in os.environ:
        global BENCH_DATABASE_URL
        # The child runs read the same variable, so they open this database too.
        BENCH_DATABASE_URL = os.environ["BENCH_AGGREGATION_DATABASE_URL"] = _common.bench_database_url(
            f"aggregation_gold_{options.pool_method}"
        )
    if options.db_run is not None:
        print(json.dumps(db_run(options.db_run)))
        return
    if options.prior_grid:
        bench_prior_grid()
        return
    if options.calibration_only:
        print_calibrated(bench_calibrated())
        print_overlap_replay(bench_overlap_replay())
        return
    if not options.database_only:
        print_datasets(bench_datasets())
        print_calibration(bench_calibration())
        print_calibrated(bench_calibrated())
        print_overlap_replay(bench_overlap_replay())
        if not options.no_synthetic:
            print_synthetic(bench_synthetic())
    if not options.no_database:
        print_database(
            bench_database(
                reuse=options.reuse_database, gold_every=options.gold_every, method=options.pool_method
            )
        )


if __name__ == "__main__":
    main()
