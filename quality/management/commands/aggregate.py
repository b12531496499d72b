"""``manage.py aggregate ANSWERS.csv``: the pools' label aggregation, for answers from anywhere.

No database and no SECRET_KEY: reads CSV files, calls ``quality.calibration.aggregate_calibrated`` (the
pools' aggregation and calibration) and writes CSV; the calibration's figures go to standard error.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser

from fairlabel.spreadsheets import spreadsheet_row
from quality.aggregation import DEFAULT_METHOD, METHODS, encode_answers, label_sort_key
from quality.calibration import MIN_ITEMS, Calibration, aggregate_calibrated

ANSWERS_HEADER = ("task", "worker", "label")
GOLD_HEADER = ("task", "label")


class Command(BaseCommand):
    help = (
        "Aggregate crowd answers into one label per task, as pools do. ANSWERS.csv has the header "
        "task,worker,label; GOLD.csv has task,label (golden tasks: their label is known and anchors "
        "the estimate; gold rows for tasks without answers are ignored). Writes task,label,confidence, "
        "one row per task in ANSWERS.csv in order of first appearance. Ties go to the first label in "
        f"sorted order (integer labels numerically). Blank lines are skipped. With at least {MIN_ITEMS} "
        "answered golden tasks the confidence is calibrated on them, held out in turn, as pools do; the "
        "calibration and its expected calibration error before and after go to standard error."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("answers", metavar="ANSWERS.csv", type=Path)
        parser.add_argument("--gold", metavar="GOLD.csv", type=Path, default=None)
        parser.add_argument("--method", choices=METHODS, default=DEFAULT_METHOD)
        parser.add_argument(
            "--output", metavar="OUT.csv", type=Path, default=None, help="default: standard output"
        )
        parser.add_argument(
            "--raw", action="store_true", help="write the method's own confidence, not the calibrated one"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        answers_path: Path = options["answers"]
        gold_path: Path | None = options["gold"]
        tasks: list[str] = []
        workers: list[str] = []
        labels: list[str] = []
        for _, (task, worker, label) in read_rows(answers_path, ANSWERS_HEADER):
            tasks.append(task)
            workers.append(worker)
            labels.append(label)
        gold = read_gold(gold_path) if gold_path is not None else {}

        encoded = encode_answers(
            tasks=tasks,
            workers=workers,
            labels=labels,
            label_order=sorted(set(labels) | set(gold.values()), key=label_sort_key),
        )
        del tasks, workers, labels
        task_code = {task: i for i, task in enumerate(encoded.tasks)}
        label_code = {label: i for i, label in enumerate(encoded.labels)}
        golden = [(task_code[task], label_code[label]) for task, label in gold.items() if task in task_code]
        calibrated = aggregate_calibrated(
            method=options["method"],
            task_idx=encoded.task_idx,
            worker_idx=encoded.worker_idx,
            label_idx=encoded.label_idx,
            n_tasks=len(encoded.tasks),
            n_workers=len(encoded.workers),
            n_labels=len(encoded.labels),
            gold_task_idx=np.array([task for task, _ in golden], dtype=np.int64),
            gold_label_idx=np.array([label for _, label in golden], dtype=np.int64),
        )
        result = calibrated.result
        written = calibrated.raw_confidence if options["raw"] else result.confidence
        self.stderr.write(calibration_summary(calibration=calibrated.calibration))

        with open_output(options["output"], self.stdout) as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(("task", "label", "confidence"))
            for task, label, confidence in zip(
                encoded.tasks, result.labels.tolist(), written.tolist(), strict=True
            ):
                writer.writerow(spreadsheet_row((task, encoded.labels[label], f"{confidence:.6f}")))


def read_rows(path: Path, header: tuple[str, ...]) -> Iterator[tuple[int, tuple[str, ...]]]:
    """Yield (line number, row) for the data rows of a CSV file that starts with ``header``.

    Streams with the csv module. Malformed input raises CommandError naming the file and the
    1-based line: a missing or wrong header, a row with the wrong number of fields, an empty
    value, broken quoting or bytes that are not UTF-8.
    """
    line = 0
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, strict=True)
            first = next(reader, None)
            line = reader.line_num or 1
            if first is None:
                raise CommandError(
                    f"{path}, line 1: the file is empty; expected the header {','.join(header)}"
                )
            if tuple(name.strip() for name in first) != header:
                raise CommandError(
                    f"{path}, line {line}: expected the header {','.join(header)}, got {','.join(first)}"
                )
            for row in reader:
                line = reader.line_num
                if not row:
                    continue  # a blank line
                if len(row) != len(header):
                    raise CommandError(
                        f"{path}, line {line}: expected {len(header)} fields ({','.join(header)}), got {len(row)}"
                    )
                for name, value in zip(header, row, strict=True):
                    if not value.strip():
                        raise CommandError(f"{path}, line {line}: missing {name}")
                yield line, tuple(row)
    except OSError as exc:
        raise CommandError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except (csv.Error, UnicodeDecodeError) as exc:
        raise CommandError(f"{path}, line {line + 1}: {exc}") from exc


def read_gold(path: Path) -> dict[str, str]:
    """Golden labels by task; the same task twice with different labels is an error."""
    gold: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for line, (task, label) in read_rows(path, GOLD_HEADER):
        known = gold.setdefault(task, label)
        first_line.setdefault(task, line)
        if known != label:
            raise CommandError(
                f"{path}, line {line}: task {task!r} has gold label {label!r} here "
                f"but {known!r} on line {first_line[task]}"
            )
    return gold


@contextmanager
def open_output(path: Path | None, stdout: Any) -> Iterator[TextIO]:
    if path is None:
        yield stdout
        return
    try:
        with path.open("w", newline="", encoding="utf-8") as f:
            yield f
    except OSError as exc:
        raise CommandError(f"{path}: cannot write: {exc.strerror or exc}") from exc


def calibration_summary(*, calibration: Calibration) -> str:
    """What the staff page shows of a run's calibration, as text."""
    if calibration.kind == "uncalibrated":
        return (
            f"uncalibrated: {calibration.items} answered golden tasks, at least {MIN_ITEMS} are needed to "
            "calibrate; confidence is the method's own"
        )
    how = (
        f"temperature {calibration.temperature:.3f}, uniform mix {calibration.mix:g}"
        if calibration.kind == "temperature"
        else "isotonic"
    )
    lines = [
        f"calibrated ({how}) on {calibration.items} golden tasks, each held out of the fit that scored it",
        f"expected calibration error on them: {calibration.ece_before:.3f} before, {calibration.ece_after:.3f} "
        "after (cross-validated)",
        "bin, tasks, mean confidence before -> accuracy | after -> accuracy",
    ]
    after = {(row[0], row[1]): row for row in calibration.bins_after}
    before = {(row[0], row[1]): row for row in calibration.bins_before}
    for edges in sorted(set(before) | set(after)):
        b, a = before.get(edges), after.get(edges)
        left = f"{b[2]:4d}  {b[3]:.3f} -> {b[4]:.3f}" if b else " " * 20
        right = f"{a[2]:4d}  {a[3]:.3f} -> {a[4]:.3f}" if a else ""
        lines.append(f"{edges[0]:.3f}-{edges[1]:.3f}  {left} | {right}")
    return "\n".join(lines)
