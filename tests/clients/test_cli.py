"""The `fairlabel` command as a shell runs it, against the real server."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fairlabel_client.cli import parser

from accounts.models import User
from tasks.models import Pool, PoolStatus

FAIRLABEL = Path(sys.executable).parent / "fairlabel"

POOL_TOML = """
name = "Listings from the shell"
instructions = "Spam or not?"
labels = ["OK", "Spam"]
reward = "0.05"
overlap = 2
golden_rate = 0
aggregation_method = "mv"
"""


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FAIRLABEL), *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=dict(os.environ)
    )


def test_create_upload_open_and_download(connection_env: User, tmp_path: Path) -> None:
    (tmp_path / "pool.toml").write_text(POOL_TOML)
    (tmp_path / "tasks.jsonl").write_text("".join(f'{{"data": {{"text": "item {n}"}}}}\n' for n in range(4)))

    created = _run("pools", "create", "--file", "pool.toml", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    pool_id = int(created.stdout.strip().splitlines()[-1])
    pool = Pool.objects.get(pk=pool_id)
    assert (pool.requester, pool.overlap, pool.aggregation_method) == (connection_env, 2, "mv")

    uploaded = _run("tasks", "upload", str(pool_id), "tasks.jsonl", "--quiet", cwd=tmp_path)
    assert uploaded.returncode == 0, uploaded.stderr
    assert "created 4 tasks" in uploaded.stdout
    opened = _run("pools", "open", str(pool_id), cwd=tmp_path)
    assert opened.returncode == 0, opened.stderr
    assert Pool.objects.get(pk=pool_id).status == PoolStatus.OPEN

    downloaded = _run("results", "download", str(pool_id), "--format", "csv", "--quiet", cwd=tmp_path)
    assert downloaded.returncode == 0, downloaded.stderr
    with (tmp_path / f"pool-{pool_id}-results.csv").open() as f:
        header = next(csv.reader(f))
    assert header[:2] == ["task_id", "external_id"]
    listed = _run("pools", "list", cwd=tmp_path)
    assert f"{pool_id}\topen\t0/4\tListings from the shell" in listed.stdout


def test_an_api_refusal_exits_non_zero_with_the_api_message(connection_env: User, tmp_path: Path) -> None:
    (tmp_path / "pool.toml").write_text('name = "No labels"\nreward = "0.05"\noverlap = 1\n')
    refused = _run("pools", "create", "--file", "pool.toml", cwd=tmp_path)
    assert refused.returncode == 1
    assert "labels: This field is required." in refused.stderr
    assert "[invalid_request]" in refused.stderr
    assert refused.stdout == ""
    missing = _run("pools", "open", "999999", cwd=tmp_path)
    assert missing.returncode == 1 and "[not_found]" in missing.stderr


def test_a_bad_file_and_a_missing_server_are_clear_errors(transactional_db: Any, tmp_path: Path) -> None:
    env_less = {k: v for k, v in os.environ.items() if not k.startswith("FAIRLABEL_")}
    env_less["FAIRLABEL_CONFIG"] = str(tmp_path / "none.toml")
    result = subprocess.run(
        [str(FAIRLABEL), "pools", "list"], capture_output=True, text=True, timeout=60, env=env_less
    )
    assert result.returncode == 2 and "FAIRLABEL_URL and FAIRLABEL_TOKEN" in result.stderr
    (tmp_path / "pool.toml").write_text("name = ")
    broken = _run(
        "--url", "http://127.0.0.1:1", "--token", "t", "pools", "create", "--file", "pool.toml", cwd=tmp_path
    )
    assert broken.returncode != 0 and "pool.toml" in broken.stderr


def _commands(action: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for sub in action._actions:
        if sub.__class__.__name__ == "_SubParsersAction":
            for name, child in sub.choices.items():
                found += _commands(child, (*prefix, name))
    return found


@pytest.mark.parametrize("command", _commands(parser()), ids=" ".join)
def test_every_command_has_help(command: tuple[str, ...], tmp_path: Path) -> None:
    shown = _run(*command, "--help", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("usage: fairlabel")


def test_aggregate_prints_one_label_per_task(connection_env: User, tmp_path: Path) -> None:
    (tmp_path / "answers.csv").write_text(
        "task,worker,label\na,w1,cat\na,w2,cat\na,w3,dog\nb,w1,dog\nb,w2,dog\n"
    )
    done = _run("aggregate", "answers.csv", "--method", "mv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["task,label,confidence", "a,cat,0.666667", "b,dog,1.000000"]
    assert "calibration: uncalibrated" in done.stderr
    refused = _run("aggregate", "answers.csv", "--method", "mv", "-o", "out.csv", cwd=tmp_path)
    assert refused.returncode == 0 and (tmp_path / "out.csv").read_text().startswith("task,label,confidence")
