"""A real dramatiq worker (manage.py rundramatiq, Redis broker) is killed with SIGKILL in the middle of
paying withdrawals, then started again: no withdrawal is paid twice and none is lost.

The simulated bank confirms each payment SIMULATED_PAYOUT_DELAY after making it, so the kill is timed to
land in the worst moment: the bank has paid, the platform has not recorded it. Every message is also
delivered twice, and the periodic safety net (withdrawals_resume) is what finds the attempts the kill
interrupted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db.models import Count
from dramatiq.brokers.redis import RedisBroker

from payouts.ledger_invariants import ledger_problems
from payouts.models import OPEN_WITHDRAWAL_STATUSES, SimulatedBankTransfer, Withdrawal
from payouts.selectors import balance_for_user
from payouts.services import withdrawal_create
from tests.factories import WorkerFactory, open_pool
from tests.payouts.util import submit
from tests.processes import REDIS_URL, clear, database_url, kill, send

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REPO = Path(__file__).resolve().parents[2]
WORKERS, WITHDRAWALS_EACH = 8, 4


def _start_worker(log: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "DATABASE_URL": database_url(),
        "DRAMATIQ_BROKER_URL": REDIS_URL,
        "FAIRLABEL_TESTING": "1",
        "SIMULATED_PAYOUT_DELAY": "0.3",
        "SIMULATED_PAYOUT_FAILURE_RATE": "0.2",
        "PAYOUT_RETRY_BACKOFF": "0.2",
        "PAYOUT_MAX_ATTEMPTS": "3",
        "PAYOUT_ATTEMPT_TIMEOUT": "2",
    }
    command = [sys.executable, "manage.py", "rundramatiq", "--processes", "1", "--threads", "4"]
    with log.open("ab") as out:
        # Its own process group, so SIGKILL reaches the dramatiq master and its worker process at once.
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=out, start_new_session=True)


def _wait_for(
    condition: Any, *, seconds: float, process: subprocess.Popen[bytes], log: Path, what: str
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        if process.poll() is not None:
            pytest.fail(
                f"the dramatiq worker exited ({process.returncode}) waiting for {what}:\n{log.read_text()}"
            )
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}:\n{log.read_text()[-4000:]}")


def test_a_worker_killed_mid_payout_pays_every_withdrawal_exactly_once(tmp_path: Path) -> None:
    broker = RedisBroker(url=REDIS_URL)
    # Engineers and CI may run the suite at the same time against one Redis: one run of this test at a time.
    with broker.client.lock("fairlabel:test-fault-lock", timeout=300, blocking_timeout=300):
        clear(broker)
        try:
            _kill_and_restart(broker, tmp_path)
        finally:
            clear(broker)
            broker.close()


def _kill_and_restart(broker: RedisBroker, tmp_path: Path) -> None:
    pool = open_pool(tasks=WORKERS, reward="5", fund_amount="100")
    workers = WorkerFactory.create_batch(WORKERS)
    for worker in workers:
        submit(pool=pool, worker=worker)
    ids = [
        withdrawal_create(worker=worker, amount=Decimal("1")).pk
        for worker in workers
        for _ in range(WITHDRAWALS_EACH)
    ]
    for withdrawal_id in ids * 2:  # dramatiq delivers at least once: every message arrives twice here
        send(broker, "withdrawal_pay", withdrawal_id)

    def paid_but_not_recorded() -> list[str]:
        paid = set(Withdrawal.objects.filter(status="paid").values_list("pk", flat=True))
        return [
            ref
            for ref in SimulatedBankTransfer.objects.values_list("payer_reference", flat=True)
            if int(ref) not in paid
        ]

    log = tmp_path / "dramatiq.log"
    process = _start_worker(log)
    try:
        _wait_for(
            lambda: Withdrawal.objects.filter(status="paid").count() >= 3 and paid_but_not_recorded(),
            seconds=40,
            process=process,
            log=log,
            what="payouts under way",
        )
        kill(process, signal.SIGKILL)
        caught = paid_but_not_recorded()
        assert caught, "the kill should land after the bank paid and before the platform recorded it"
        assert Withdrawal.objects.filter(status__in=OPEN_WITHDRAWAL_STATUSES).exists()

        process = _start_worker(log)

        def all_settled() -> bool:
            # What the scheduler does every 30 s in production, here every half second.
            send(broker, "withdrawals_resume")
            time.sleep(0.5)
            return not Withdrawal.objects.filter(pk__in=ids, status__in=OPEN_WITHDRAWAL_STATUSES).exists()

        _wait_for(all_settled, seconds=50, process=process, log=log, what="every withdrawal to settle")
    finally:
        kill(process, signal.SIGTERM)

    withdrawals = {w.pk: w for w in Withdrawal.objects.filter(pk__in=ids)}
    transfers = dict(
        SimulatedBankTransfer.objects.values_list("payer_reference")
        .annotate(n=Count("id"))
        .values_list("payer_reference", "n")
    )
    for withdrawal_id, withdrawal in withdrawals.items():
        paid_times = transfers.get(str(withdrawal_id), 0)
        if withdrawal.status == "paid":
            assert paid_times == 1, f"withdrawal {withdrawal_id} was paid {paid_times} times"
        else:
            assert withdrawal.status == "failed" and withdrawal.failure_reason
            assert paid_times == 0, f"withdrawal {withdrawal_id} failed, yet the bank paid it"
    # The payments the kill left unrecorded were found again by their idempotency keys, not made twice.
    for reference in caught:
        assert withdrawals[int(reference)].status == "paid"
        assert SimulatedBankTransfer.objects.get(payer_reference=reference).replays >= 1
    for worker in workers:
        paid = sum(
            (w.amount for w in withdrawals.values() if w.worker_id == worker.pk and w.status == "paid"),
            Decimal(0),
        )
        assert balance_for_user(user=worker).available == Decimal("5") - paid
    assert ledger_problems() == []
