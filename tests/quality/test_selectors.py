"""The skill rule has one definition: the SQL the dashboard and staff pages sort by equals the Python one."""

from __future__ import annotations

import numpy as np
import pytest

from quality.aggregation import skill_smoothed, skill_smoothed_array
from quality.selectors import skill_expression
from tasks.models import WorkerPoolStats
from tests.factories import PoolFactory, WorkerFactory

pytestmark = pytest.mark.django_db


def test_the_database_computes_the_same_skill_as_python():
    pool = PoolFactory()
    counts = [(0, 0), (1, 0), (1, 1), (7, 3), (200, 199)]
    for answered, correct in counts:
        WorkerPoolStats.objects.create(
            worker=WorkerFactory(), pool=pool, golden_answered=answered, golden_correct=correct
        )
    rows = (
        WorkerPoolStats.objects.filter(pool=pool)
        .annotate(skill=skill_expression(correct="golden_correct", answered="golden_answered"))
        .values_list("golden_answered", "golden_correct", "skill")
    )
    got = {(a, c): s for a, c, s in rows}
    for answered, correct in counts:
        assert got[(answered, correct)] == pytest.approx(skill_smoothed(correct=correct, answered=answered))
    array = skill_smoothed_array(
        correct=np.array([c for _, c in counts]), answered=np.array([a for a, _ in counts])
    )
    assert array.tolist() == pytest.approx([got[k] for k in counts])
    assert got[(0, 0)] == 0.5
