"""The demo `make run` loads: accounts, the requester's money and an open moderation pool, all or nothing."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from accounts.models import User
from accounts.services import account_create
from demo import listings
from demo.accounts import DEMO_ACCOUNTS
from payouts.services import deposit_create
from tasks.models import Pool
from tasks.services import PoolSettings, pool_create
from workflows.pools import pool_open_within, tasks_add_within

POOL_NAME = "Marketplace listings moderation (demo)"


@transaction.atomic(durable=True)
def demo_load() -> Pool | None:
    """Load the demo once; None when it is already there (running it again changes nothing)."""
    if User.objects.filter(username=DEMO_ACCOUNTS[0].username).exists():
        return None
    users = {
        a.username: account_create(username=a.username, password=a.password, role=a.role, validate=False)
        for a in DEMO_ACCOUNTS
    }
    requester = users["requester"]
    deposit_create(user=requester, amount=Decimal("500.00"), memo="demo funds")
    pool = pool_create(
        requester=requester,
        settings=PoolSettings(
            name=POOL_NAME,
            instructions=listings.INSTRUCTIONS,
            labels=listings.LABELS,
            reward=Decimal("0.03"),
            overlap=3,
            priority=60,
            golden_rate=0.1,
            assignment_ttl=600,
        ),
    )
    tasks_add_within(pool=pool, rows=listings.demo_rows())
    return pool_open_within(pool=pool)
