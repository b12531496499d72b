"""``manage.py aggregate ANSWERS.csv``: the pools' label aggregation, for answers from anywhere.

No database and no SECRET_KEY: reads CSV files through ``quality.answer_files`` (the pools' aggregation and
calibration, also behind ``POST /api/v1/aggregate/``) and writes CSV; the calibration's figures go to
standard error.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from fairlabel.spreadsheets import spreadsheet_row
from quality.aggregation import DEFAULT_METHOD, METHODS
from quality.answer_files import AnswerFileError, answer_file_aggregate
from quality.calibration import MIN_ITEMS, Calibration


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
        try:
            with ExitStack() as files:
                answers = files.enter_context(_open(answers_path))
                gold = files.enter_context(_open(gold_path)) if gold_path is not None else None
                results = answer_file_aggregate(
                    answers=answers,
                    answers_name=str(answers_path),
                    gold=gold,
                    gold_name=str(gold_path),
                    method=options["method"],
                )
        except AnswerFileError as exc:
            raise CommandError(str(exc)) from exc
        written = results.raw_confidence if options["raw"] else results.confidence
        self.stderr.write(calibration_summary(calibration=results.calibration))

        with open_output(options["output"], self.stdout) as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(("task", "label", "confidence"))
            for task, label, confidence in zip(results.tasks, results.labels, written, strict=True):
                writer.writerow(spreadsheet_row((task, label, f"{confidence:.6f}")))


@contextmanager
def _open(path: Path) -> Iterator[TextIO]:
    try:
        file = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise CommandError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    with file:
        yield file


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
