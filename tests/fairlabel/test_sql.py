"""The feed's prepared cursor behaves as Django's own cursor where it matters: errors, transactions, logs."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from fairlabel.sql import prepared_cursor
from tasks.models import Pool
from tests.factories import PoolFactory

pytestmark = pytest.mark.django_db

_RENAME = "UPDATE tasks_pool SET name = %(name)s WHERE id = %(pool)s"


def test_a_unique_violation_is_djangos_integrity_error_and_a_savepoint_recovers_from_it() -> None:
    pool = PoolFactory()
    with transaction.atomic():
        with pytest.raises(IntegrityError), transaction.atomic(), prepared_cursor() as cursor:
            cursor.execute("INSERT INTO tasks_pool SELECT * FROM tasks_pool WHERE id = %s", [pool.pk])
        with prepared_cursor() as cursor:  # the outer transaction is still usable
            cursor.execute(_RENAME, {"name": "renamed", "pool": pool.pk})
    assert Pool.objects.get(pk=pool.pk).name == "renamed"


def test_a_statement_in_a_broken_transaction_is_refused_as_django_refuses_it() -> None:
    pool = PoolFactory()
    with pytest.raises(TransactionManagementError), transaction.atomic():
        # No savepoint: the failed statement leaves the whole transaction to be rolled back.
        with pytest.raises(IntegrityError), transaction.atomic(savepoint=False), prepared_cursor() as cursor:
            cursor.execute("INSERT INTO tasks_pool SELECT * FROM tasks_pool WHERE id = %s", [pool.pk])
        with prepared_cursor() as cursor:
            cursor.execute(_RENAME, {"name": "never", "pool": pool.pk})
    assert Pool.objects.get(pk=pool.pk).name != "never"


def test_statements_are_recorded_where_django_records_queries() -> None:
    pool = PoolFactory()
    with CaptureQueriesContext(connection) as queries, prepared_cursor() as cursor:
        cursor.execute(_RENAME, {"name": "logged", "pool": pool.pk})
    assert [q["sql"] for q in queries.captured_queries] == [_RENAME]


def test_statements_are_prepared_once_per_connection_on_postgresql() -> None:
    pool = PoolFactory()
    for name in ("one", "two", "three"):
        with prepared_cursor() as cursor:
            cursor.execute(_RENAME, {"name": name, "pool": pool.pk})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["UPDATE tasks_pool SET name = $1 WHERE id = $2%"],
        )
        (prepared,) = cursor.fetchone()
    assert prepared == 1
    assert Pool.objects.get(pk=pool.pk).name == "three"
