"""Instances built from hand-written SQL rows behave as the ORM's own."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from fairlabel.rows import from_row, select_list
from tasks.models import Pool, Task
from tests.factories import PoolFactory, TaskFactory

pytestmark = pytest.mark.django_db


def _row(sql: str, params: list[object]) -> tuple[object, ...]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    assert row is not None
    return tuple(row)


def test_a_whole_row_converts_as_the_orm_converts_it() -> None:
    stored = PoolFactory(labels=["OK", "Bad", "Spam"], reward=Decimal("0.0700"), min_seconds=2.5)
    row = _row(f"SELECT {select_list(Pool, 'p')} FROM tasks_pool p WHERE p.id = %s", [stored.pk])

    pool = from_row(Pool, row)

    assert pool == Pool.objects.get(pk=stored.pk)
    assert pool.labels == ["OK", "Bad", "Spam"]  # JSON text in the row, a list here
    assert pool.reward == Decimal("0.0700") and pool.created_at == stored.created_at
    assert not pool._state.adding  # saving it updates the row rather than inserting another


def test_a_partial_row_defers_the_other_fields_and_loads_them_when_read() -> None:
    stored = TaskFactory(data={"text": "a used bicycle"}, golden_label="OK")
    fields = ("id", "pool", "golden_label")
    row = _row(f"SELECT {select_list(Task, 't', fields)} FROM tasks_task t WHERE t.id = %s", [stored.pk])

    task = from_row(Task, row, fields)

    assert (task.pk, task.pool_id, task.golden_label) == (stored.pk, stored.pool_id, "OK")
    assert task.get_deferred_fields() >= {"data", "remaining"}
    assert task.data == {"text": "a used bicycle"}  # read from the database on first use


def test_a_row_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError):
        from_row(Task, (1, 2), ("id", "pool", "golden_label"))
