"""POST /api/v1/aggregate/: a file of answers aggregated as pools are, the same figures as manage.py aggregate."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings

pytestmark = pytest.mark.django_db

ANSWERS = "task,worker,label\n" + "".join(
    f"t{t},w{w},{'cat' if (t + w) % 4 else 'dog'}\n" for t in range(40) for w in range(5)
)
GOLD = "task,label\n" + "".join(f"t{t},cat\n" for t in range(0, 40, 2))


def _file(text: str, name: str) -> io.BytesIO:
    upload = io.BytesIO(text.encode())
    upload.name = name
    return upload


def test_the_api_gives_what_the_command_gives(api: Any, requester: Any, tmp_path: Path, capsys: Any) -> None:
    response = api(requester).post(
        "/api/v1/aggregate/",
        {"answers": _file(ANSWERS, "answers.csv"), "gold": _file(GOLD, "gold.csv"), "method": "ds"},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    (tmp_path / "answers.csv").write_text(ANSWERS)
    (tmp_path / "gold.csv").write_text(GOLD)
    call_command("aggregate", str(tmp_path / "answers.csv"), "--gold", str(tmp_path / "gold.csv"))
    lines = capsys.readouterr().out.strip().splitlines()[1:]
    assert [f"{r['task']},{r['label']},{r['confidence']:.6f}" for r in body["results"]] == lines
    assert len(body["results"]) == 40
    assert body["calibration"]["golden_tasks"] == 20
    assert body["calibration"]["kind"] == "uncalibrated"  # 20 golden tasks: under 30, too few to fit


def test_a_bad_file_names_its_line(api: Any, requester: Any) -> None:
    bad = "task,worker,label\nt1,w1,cat\nt2,w2\n"
    response = api(requester).post(
        "/api/v1/aggregate/", {"answers": _file(bad, "mine.csv")}, format="multipart"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_answers_file"
    assert error["message"].startswith("mine.csv, line 3: expected 3 fields")


def test_missing_answers_a_wrong_method_and_a_big_file_are_refused(api: Any, requester: Any) -> None:
    client = api(requester)
    assert (
        client.post("/api/v1/aggregate/", {}, format="multipart").json()["error"]["code"] == "invalid_request"
    )
    wrong = client.post(
        "/api/v1/aggregate/", {"answers": _file(ANSWERS, "a.csv"), "method": "glad"}, format="multipart"
    )
    assert wrong.status_code == 400 and "ds, mv, wawa" in wrong.json()["error"]["message"]
    with override_settings(AGGREGATE_MAX_BYTES=100):
        big = client.post("/api/v1/aggregate/", {"answers": _file(ANSWERS, "a.csv")}, format="multipart")
    assert big.status_code == 413 and big.json()["error"]["code"] == "file_too_large"


def test_workers_may_not_use_it(api: Any, worker: Any) -> None:
    response = api(worker).post(
        "/api/v1/aggregate/", {"answers": _file(ANSWERS, "a.csv")}, format="multipart"
    )
    assert response.status_code == 403
