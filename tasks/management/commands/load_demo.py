from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.demo import DEMO_ACCOUNTS
from accounts.models import User
from accounts.services import account_create
from payouts.services import deposit_create
from tasks import demo
from tasks.models import Pool
from tasks.services import PoolSettings, pool_create
from workflows.pools import pool_open, tasks_add

POOL_NAME = "Marketplace listings moderation (demo)"


class Command(BaseCommand):
    help = "Create the demo accounts and an open moderation pool, once (running it again changes nothing)."

    @transaction.atomic
    def handle(self, *args, **options):
        if User.objects.filter(username=DEMO_ACCOUNTS[0].username).exists():
            self.stdout.write("Demo already loaded.")
            return
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
                instructions=demo.INSTRUCTIONS,
                labels=demo.LABELS,
                reward=Decimal("0.03"),
                overlap=3,
                priority=60,
                golden_rate=0.1,
                assignment_ttl=600,
            ),
        )
        tasks_add(pool=pool, rows=demo.demo_rows())
        pool_open(pool=pool)
        self.stdout.write(
            f"Demo loaded: pool #{pool.pk} with {Pool.objects.get(pk=pool.pk).tasks.count()} tasks."
        )
