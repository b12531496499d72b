"""``manage.py aggregate``: CSV in, CSV out, no database.

No test here is marked ``django_db``, so pytest-django blocks database access: a test fails if the
command ever touches the database.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from quality.aggregation import aggregate, encode_answers
from tests.datasets import dataset_folder

ANSWERS = """task,worker,label
t1,w1,cat
t1,w2,cat
t1,w3,dog
t2,w1,dog
t2,w2,dog
t3,w3,dog
t3,w1,cat
"""


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def run(*args: str) -> list[list[str]]:
    out = io.StringIO()
    call_command("aggregate", *args, stdout=out)
    return list(csv.reader(io.StringIO(out.getvalue())))


def test_majority_vote_to_stdout(tmp_path: Path) -> None:
    answers = write(tmp_path, "answers.csv", ANSWERS)
    rows = run(str(answers), "--method", "mv")
    assert rows == [
        ["task", "label", "confidence"],
        ["t1", "cat", "0.666667"],
        ["t2", "dog", "1.000000"],
        ["t3", "cat", "0.500000"],  # a tie: the first label in sorted order wins
    ]


def test_gold_and_output_file(tmp_path: Path) -> None:
    answers = write(tmp_path, "answers.csv", ANSWERS)
    # t1's gold label is one nobody gave; t9 has no answers and is ignored.
    gold = write(tmp_path, "gold.csv", "task,label\nt1,bird\nt9,cat\nt2,dog\n")
    output = tmp_path / "out.csv"
    assert run(str(answers), "--gold", str(gold), "--output", str(output)) == []
    rows = list(csv.reader(output.open(newline="")))
    assert rows[0] == ["task", "label", "confidence"]
    assert [row[0] for row in rows[1:]] == ["t1", "t2", "t3"]
    assert rows[1] == ["t1", "bird", "1.000000"]
    assert rows[2] == ["t2", "dog", "1.000000"]
    # Dawid-Skene learns from t1 that when the truth is bird, w1 says cat and w3 says dog, which
    # is exactly what they said on t3.
    assert rows[3][0] == "t3"
    assert rows[3][1] == "bird"
    assert 0.5 < float(rows[3][2]) < 1.0


def test_default_method_is_dawid_skene_and_matches_the_library(tmp_path: Path) -> None:
    folder = dataset_folder("rte")
    rows = run(str(folder / "answers.csv"), "--gold", str(folder / "gold.csv"))

    with (folder / "answers.csv").open(newline="") as f:
        answers = list(csv.DictReader(f))
    with (folder / "gold.csv").open(newline="") as f:
        gold = {row["task"]: row["label"] for row in csv.DictReader(f)}
    encoded = encode_answers(
        tasks=[a["task"] for a in answers],
        workers=[a["worker"] for a in answers],
        labels=[a["label"] for a in answers],
    )
    label_code = {label: i for i, label in enumerate(encoded.labels)}
    result = aggregate(
        method="ds",
        task_idx=encoded.task_idx,
        worker_idx=encoded.worker_idx,
        label_idx=encoded.label_idx,
        n_tasks=len(encoded.tasks),
        n_workers=len(encoded.workers),
        n_labels=len(encoded.labels),
        gold_task_idx=np.arange(len(encoded.tasks)),
        gold_label_idx=np.array([label_code[gold[task]] for task in encoded.tasks]),
    )
    assert len(rows) == 1 + len(encoded.tasks)
    assert [row[0] for row in rows[1:]] == list(encoded.tasks)
    assert [row[1] for row in rows[1:]] == [encoded.labels[i] for i in result.labels]
    assert {row[2] for row in rows[1:]} == {"1.000000"}  # every task is golden


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    answers = write(tmp_path, "answers.csv", "task,worker,label\n\nt1,w1,a\n\nt1,w2,a\n")
    assert run(str(answers), "--method", "mv")[1:] == [["t1", "a", "1.000000"]]


def test_byte_order_mark_and_crlf_are_accepted(tmp_path: Path) -> None:
    answers = write(tmp_path, "answers.csv", b"\xef\xbb\xbftask,worker,label\r\nt1,w1,a\r\n")
    assert run(str(answers), "--method", "mv")[1:] == [["t1", "a", "1.000000"]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "line 1: the file is empty"),
        ("task,label\nt1,a\n", "line 1: expected the header task,worker,label"),
        ("task,worker,label\nt1,w1,a\nt2,w1\n", "line 3: expected 3 fields"),
        ("task,worker,label\nt1,w1,a,b\n", "line 2: expected 3 fields"),
        ("task,worker,label\nt1,w1,a\nt2,,a\n", "line 3: missing worker"),
        ("task,worker,label\nt1,w1, \n", "line 2: missing label"),
        ('task,worker,label\nt1,w1,a\n"t2,w1,a\n', "line 3: unexpected end of data"),  # open quote
    ],
)
def test_malformed_answers(tmp_path: Path, text: str, message: str) -> None:
    answers = write(tmp_path, "answers.csv", text)
    with pytest.raises(CommandError, match=message) as error:
        run(str(answers))
    assert str(answers) in str(error.value)


def test_answers_that_are_not_utf8(tmp_path: Path) -> None:
    answers = write(tmp_path, "answers.csv", b"task,worker,label\nt1,w1,\xff\xfe\n")
    with pytest.raises(CommandError, match=r"answers\.csv, line"):
        run(str(answers))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "line 1: the file is empty"),
        ("task,worker,label\nt1,w1,a\n", "line 1: expected the header task,label"),
        ("task,label\nt1,a\nt2,\n", "line 3: missing label"),
        ("task,label\n,a\n", "line 2: missing task"),
        ("task,label\nt1\n", "line 2: expected 2 fields"),
        ("task,label\nt1,a\nt2,a\nt1,b\n", "line 4: task 't1' has gold label 'b' here but 'a' on line 2"),
    ],
)
def test_malformed_gold(tmp_path: Path, text: str, message: str) -> None:
    answers = write(tmp_path, "answers.csv", ANSWERS)
    gold = write(tmp_path, "gold.csv", text)
    with pytest.raises(CommandError, match=message) as error:
        run(str(answers), "--gold", str(gold))
    assert str(gold) in str(error.value)


def test_repeated_gold_with_the_same_label_is_fine(tmp_path: Path) -> None:
    answers = write(tmp_path, "answers.csv", ANSWERS)
    gold = write(tmp_path, "gold.csv", "task,label\nt3,dog\nt3,dog\n")
    assert run(str(answers), "--gold", str(gold), "--method", "mv")[3] == ["t3", "dog", "1.000000"]


def test_missing_file_and_unknown_method(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"nope\.csv: cannot read"):
        run(str(tmp_path / "nope.csv"))
    answers = write(tmp_path, "answers.csv", ANSWERS)
    with pytest.raises(CommandError, match="invalid choice"):
        run(str(answers), "--method", "glad")


def _dog_with_some_gold(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """The dog set's answers with a tenth of its gold given (every tenth gold row), the rest held back."""
    folder = dataset_folder("dog")
    with (folder / "gold.csv").open(newline="") as f:
        gold = [(row["task"], row["label"]) for row in csv.DictReader(f)]
    given = gold[::10]
    path = write(tmp_path, "gold.csv", "task,label\n" + "".join(f"{t},{label}\n" for t, label in given))
    held_back = {t: label for t, label in gold if (t, label) not in set(given)}
    return folder / "answers.csv", path, held_back


def test_gold_calibrates_the_confidence_and_the_figures_go_to_stderr(tmp_path: Path) -> None:
    answers, gold, held_back = _dog_with_some_gold(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    call_command("aggregate", str(answers), "--gold", str(gold), stdout=out, stderr=err)
    report = err.getvalue()
    assert "calibrated (temperature" in report and "on 81 golden tasks" in report
    assert "expected calibration error on them:" in report
    calibrated = {row[0]: row for row in csv.reader(io.StringIO(out.getvalue()))}
    raw_out = io.StringIO()
    call_command(
        "aggregate", str(answers), "--gold", str(gold), "--raw", stdout=raw_out, stderr=io.StringIO()
    )
    raw = {row[0]: row for row in csv.reader(io.StringIO(raw_out.getvalue()))}
    scored = [task for task in held_back if task in calibrated]
    assert all(calibrated[t][1] == raw[t][1] for t in scored)  # the labels do not change
    right = [calibrated[t][1] == held_back[t] for t in scored]
    accuracy = sum(right) / len(right)
    mean = {
        name: sum(float(rows[t][2]) for t in scored) / len(scored)
        for name, rows in (("c", calibrated), ("r", raw))
    }
    # Dawid-Skene claims about 0.99 where it is right about 84% of the time; calibrated, it claims about that.
    assert mean["r"] - accuracy > 0.1
    assert abs(mean["c"] - accuracy) < 0.05


def test_too_little_gold_says_uncalibrated(tmp_path: Path) -> None:
    answers = write(tmp_path, "answers.csv", ANSWERS)
    err = io.StringIO()
    call_command("aggregate", str(answers), "--method", "mv", stdout=io.StringIO(), stderr=err)
    assert err.getvalue().startswith("uncalibrated: 0 answered golden tasks, at least 30 are needed")


def test_the_command_runs_on_a_fresh_clone_without_a_secret_key(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    answers = write(tmp_path, "answers.csv", ANSWERS)
    # What a fresh clone's shell has: no key, no DEBUG, the project's own settings, no development.env.
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/"), "VAR_DIR": str(tmp_path)}
    manage = Path(__file__).resolve().parents[2] / "manage.py"
    done = subprocess.run(
        [sys.executable, str(manage), "aggregate", str(answers), "--method", "mv"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "task,label,confidence"
    # The exemption is this command's only: anything else still refuses to start without a key.
    refused = subprocess.run(
        [sys.executable, str(manage), "check"], capture_output=True, text=True, env=env, timeout=120
    )
    assert refused.returncode != 0 and "SECRET_KEY is not set" in refused.stderr
