"""The public crowdsourcing data sets with gold that some tests run on (../shared/datasets beside the clone).

A developer's checkout may not have them, and then those tests skip; under CI (CI=true) a missing data set is a
failure, so a run cannot pass those tests without running them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATASETS = Path(
    os.environ.get("FAIRLABEL_DATASETS", Path(__file__).resolve().parents[1].parent / "shared" / "datasets")
)


def dataset_folder(name: str) -> Path:
    folder = DATASETS / name
    if not folder.is_dir():
        message = f"data set {name!r} not found at {folder} (set FAIRLABEL_DATASETS to its folder)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    return folder
