"""docs/client.md runs as written: its Python blocks in one namespace, its shell blocks in one bash, in order."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from accounts.models import User
from tasks.models import Pool, PoolStatus

PAGE = Path(__file__).resolve().parents[2] / "docs" / "client.md"
BLOCK = re.compile(r"^```(python|sh)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _blocks(language: str) -> list[str]:
    return [code for lang, code in BLOCK.findall(PAGE.read_text()) if lang == language]


def test_the_page_has_both_halves_of_each_step() -> None:
    assert len(_blocks("python")) >= 5
    assert sum("curl" in code for code in _blocks("sh")) >= 5


def test_the_python_steps_run(
    connection_env: User, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {}
    for code in _blocks("python"):
        exec(compile(code, str(PAGE), "exec"), namespace)
    printed = capsys.readouterr().out
    pool = Pool.objects.get(requester=connection_env)
    assert pool.status == PoolStatus.OPEN
    assert pool.tasks.count() == 3
    assert "3 tasks created" in printed and "invalid_upload" in printed and "404 not_found" in printed
    assert (tmp_path / "results.csv").read_text().startswith("task_id,external_id")
    assert "confidence" in printed and "float64" in printed  # the Parquet file's dtypes
    assert (tmp_path / "label-studio.json").read_text().startswith('[{"id":')


def test_the_shell_steps_run(connection_env: User, tmp_path: Path) -> None:
    # The install and the export of the two variables are the reader's; the environment already has them.
    steps = [code for code in _blocks("sh") if not code.startswith(("pip install", "export FAIRLABEL_"))]
    script = "set -euo pipefail\n" + "\n".join(steps)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert '"code":"not_found"' in done.stdout
    pools = Pool.objects.filter(requester=connection_env)
    assert sorted(pools.values_list("name", "status")) == [
        ("Listings from the shell", PoolStatus.OPEN),
        ("Marketplace listings", PoolStatus.OPEN),
    ]
    assert (tmp_path / "shell-results.csv").read_text().startswith("task_id,external_id")
    assert (tmp_path / "results.parquet").read_bytes()[:4] == b"PAR1"
