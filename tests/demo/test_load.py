"""`make run` loads the demo with `manage.py load_demo`: what a newcomer logs in to, once."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import User
from demo.load import POOL_NAME
from payouts.ledger_invariants import ledger_report
from tasks.models import Pool, PoolStatus

pytestmark = pytest.mark.django_db


def _load() -> str:
    out = StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


def test_the_demo_loads_an_open_pool_once_and_keeps_the_ledger_whole():
    assert "Demo loaded" in _load()
    assert set(User.objects.values_list("username", flat=True)) >= {
        "requester",
        "alice",
        "bob",
        "chen",
        "admin",
    }
    pool = Pool.objects.get(name=POOL_NAME)
    assert pool.status == PoolStatus.OPEN
    assert pool.tasks.count() == 200 and pool.tasks.filter(golden_label__isnull=False).count() == 20
    assert ledger_report().problems == []
    assert "already loaded" in _load()
    assert Pool.objects.count() == 1
