"""The real services under load, each killed or restarted mid-way.

The web server `make serve` runs (granian) and a dramatiq worker run as subprocesses against the live test
database. Worker threads submit answers through the API and ask for withdrawals while, in turn, the web server
is SIGKILLed and started again, the dramatiq worker is SIGKILLed and started again, Redis is shut down without
saving and started again, and PostgreSQL is restarted. Clients retry through the outages. Afterwards: every answer the API acknowledged is
stored, no task has more answers than its overlap, no worker met a task twice, the ledger balances, and every
withdrawal ends paid once or failed and refunded.

This restarts the machine's Redis and PostgreSQL: other suites running at the same moment see a short outage.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from django.core.management import call_command
from django.db import connection
from django.db.models import Count
from dramatiq.brokers.redis import RedisBroker

from accounts.services import token_for
from fairlabel.embedded_postgres import embedded_postgres_restart
from payouts.ledger_invariants import ledger_problems
from payouts.models import OPEN_WITHDRAWAL_STATUSES, SimulatedBankTransfer, Withdrawal
from payouts.selectors import balance_for_user
from tasks.models import Answer, Task
from tests.factories import WorkerFactory, open_pool
from tests.payouts.util import submit
from tests.processes import REDIS_URL, clear, database_url, free_port, kill, send, start_dramatiq, start_web

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WORKERS, TASKS, OVERLAP = 10, 40, 3
WITHDRAWAL = Decimal("0.50")


def _env() -> dict[str, str]:
    return os.environ | {
        "DATABASE_URL": database_url(),
        "DRAMATIQ_BROKER_URL": REDIS_URL,
        "FAIRLABEL_TESTING": "1",
        "SECRET_KEY": "fault-test-" + "x" * 40,  # one key for every web server process
        "SECURE_SSL_REDIRECT": "0",
        "SIMULATED_PAYOUT_DELAY": "0.1",
        "SIMULATED_PAYOUT_FAILURE_RATE": "0.2",
        "PAYOUT_RETRY_BACKOFF": "0.2",
        "PAYOUT_MAX_ATTEMPTS": "3",
        "PAYOUT_ATTEMPT_TIMEOUT": "2",
        "DJANGO_SETTINGS_MODULE": "fairlabel.settings",
    }


def _start_web(port: int, log: Path) -> subprocess.Popen[bytes]:
    return start_web(port, log, _env())


def _start_dramatiq(log: Path) -> subprocess.Popen[bytes]:
    return start_dramatiq(log, _env())


def _restart_redis() -> None:
    subprocess.run(["redis-cli", "-p", "6379", "shutdown", "nosave"], capture_output=True, timeout=10)
    time.sleep(0.3)
    subprocess.run(
        [
            "redis-server",
            "--daemonize", "yes",
            "--bind", "127.0.0.1",
            "--port", "6379",
            "--save", "",
            "--appendonly", "no",
        ],
        check=True,
        capture_output=True,
        timeout=10,
    )  # fmt: skip
    client = redis.Redis.from_url(REDIS_URL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if client.ping():
                return
        except redis.RedisError:
            time.sleep(0.05)
    pytest.fail("Redis did not come back")


def _restart_postgres() -> None:
    socket_dir = connection.settings_dict["HOST"]
    if socket_dir.startswith("/"):  # the embedded server, whose socket sits in its data folder
        embedded_postgres_restart(data_dir=Path(socket_dir))
    else:
        cluster = sorted(os.listdir("/etc/postgresql"))[-1]
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", cluster, "main", "restart", "-m", "fast"],
            check=True,
            capture_output=True,
            timeout=60,
        )
    connection.close()  # this process's connection died with the server


class Client(threading.Thread):
    """One worker: claim, submit, now and then cash out; every error is an outage to wait out and retry."""

    def __init__(self, *, base: str, token: str, pool_id: int, labels: list[str], stop: threading.Event):
        super().__init__(daemon=True)
        self.http = httpx.Client(base_url=base, headers={"Authorization": f"Token {token}"}, timeout=5)
        self.pool_id, self.labels, self.stop = pool_id, labels, stop
        self.acknowledged: list[int] = []  # assignment ids whose submit got 200
        self.withdrawals: list[int] = []
        self.errors = 0
        self.done = False

    def _post(self, url: str, **kwargs: Any) -> httpx.Response | None:
        """None while the service is down (connection refused/reset, 5xx): the caller retries."""
        try:
            response = self.http.post(url, **kwargs)
        except httpx.HTTPError:
            self.errors += 1
            time.sleep(0.1)
            return None
        if response.status_code >= 500:
            self.errors += 1
            time.sleep(0.1)
            return None
        return response

    def _withdraw(self) -> None:
        key = uuid.uuid4().hex
        while not self.stop.is_set():
            response = self._post(
                "/api/v1/me/withdrawals/", json={"amount": str(WITHDRAWAL)}, headers={"Idempotency-Key": key}
            )
            if response is None:
                continue
            assert response.status_code in (200, 201), response.text
            if response.json()["id"] not in self.withdrawals:
                self.withdrawals.append(response.json()["id"])
            return

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            response = self._post("/api/v1/assignments/next/", json={"pool": self.pool_id})
            if response is None:
                continue
            if response.status_code == 204:
                self.done = True
                return
            assert response.status_code == 200, response.text
            assignment_id = response.json()["id"]
            label = self.labels[n % len(self.labels)]
            while not self.stop.is_set():
                submitted = self._post(f"/api/v1/assignments/{assignment_id}/submit/", json={"label": label})
                if submitted is None:
                    continue
                if submitted.status_code == 200:
                    self.acknowledged.append(assignment_id)
                # Anything else (already submitted by a retry whose 200 was lost, expired): move on.
                break
            n += 1
            if n % 3 == 0:
                self._withdraw()
            time.sleep(0.05)


def test_answers_and_withdrawals_survive_killed_and_restarted_services(tmp_path: Path) -> None:
    broker = RedisBroker(url=REDIS_URL)
    # One run at a time of the tests that use this Redis database (the same lock as tests/payouts/test_fault).
    lock = broker.client.lock("fairlabel:test-fault-lock", timeout=300, blocking_timeout=300)
    assert lock.acquire()
    try:
        clear(broker)
        _run(tmp_path)
    finally:
        try:
            clear(RedisBroker(url=REDIS_URL))
            lock.release()
        except redis.RedisError:
            pass  # the Redis restart dropped the lock with everything else
        broker.close()


def _run(tmp_path: Path) -> None:
    started = time.monotonic()
    seed = open_pool(tasks=WORKERS, reward="5", fund_amount="100")
    workers = WorkerFactory.create_batch(WORKERS)
    for worker in workers:
        submit(pool=seed, worker=worker)  # 5.00 each to cash out from
    pool = open_pool(tasks=TASKS, overlap=OVERLAP, reward="0.10", fund_amount="100")
    tokens = {w.pk: token_for(user=w).key for w in workers}

    port = free_port()
    web_log, job_log = tmp_path / "web.log", tmp_path / "dramatiq.log"
    web = _start_web(port, web_log)
    jobs = _start_dramatiq(job_log)
    stop = threading.Event()
    clients = [
        Client(
            base=f"http://127.0.0.1:{port}",
            token=tokens[w.pk],
            pool_id=pool.pk,
            labels=list(pool.labels),
            stop=stop,
        )
        for w in workers
    ]
    try:
        for client in clients:
            client.start()

        def answers() -> int:
            return Answer.objects.filter(pool=pool).count()

        def wait_for_progress(before: int) -> None:
            deadline = time.monotonic() + 10
            while answers() < before + 5 and time.monotonic() < deadline:
                time.sleep(0.1)

        wait_for_progress(0)
        # 1. The web server: SIGKILL its main process and workers, start again on the same port.
        kill(web, signal.SIGKILL)
        time.sleep(0.5)
        web = _start_web(port, web_log)
        wait_for_progress(answers())
        # 2. the dramatiq worker, in the middle of paying withdrawals.
        kill(jobs, signal.SIGKILL)
        time.sleep(0.3)
        jobs = _start_dramatiq(job_log)
        wait_for_progress(answers())
        # 3. Redis: shut down without saving (queued messages are lost), start again.
        _restart_redis()
        wait_for_progress(answers())
        # 4. PostgreSQL.
        _restart_postgres()
        wait_for_progress(answers())

        deadline = time.monotonic() + 30
        while not all(c.done for c in clients) and time.monotonic() < deadline:
            time.sleep(0.2)
        stop.set()
        for client in clients:
            client.join(timeout=10)
        assert all(c.done for c in clients), "the clients did not finish the pool"

        # The lost messages are found by the periodic safety net: here every half second.
        restarted_broker = RedisBroker(url=REDIS_URL)
        ids = [i for c in clients for i in c.withdrawals]
        deadline = time.monotonic() + 30
        while Withdrawal.objects.filter(pk__in=ids, status__in=OPEN_WITHDRAWAL_STATUSES).exists():
            assert time.monotonic() < deadline, f"withdrawals still open:\n{job_log.read_text()[-4000:]}"
            assert jobs.poll() is None, f"the dramatiq worker exited:\n{job_log.read_text()[-4000:]}"
            send(restarted_broker, "withdrawals_resume")
            time.sleep(0.5)
        restarted_broker.close()
    finally:
        stop.set()
        kill(web, signal.SIGKILL)
        kill(jobs, signal.SIGTERM)

    # The clients did live through the outages (refused connections, resets, 5xx), and still finished the pool.
    assert sum(c.errors for c in clients) > 0
    # Every acknowledged answer is stored.
    acknowledged = [a for c in clients for a in c.acknowledged]
    assert len(acknowledged) == len(set(acknowledged))
    stored = set(
        Answer.objects.filter(assignment_id__in=acknowledged).values_list("assignment_id", flat=True)
    )
    assert stored == set(acknowledged)
    # No task over its overlap, no worker twice on a task.
    over = Task.objects.filter(pool=pool).annotate(n=Count("answers")).filter(n__gt=OVERLAP)
    assert not over.exists()
    for task in Task.objects.filter(pool=pool):
        assert Answer.objects.filter(task=task).count() <= task.max_answers
    repeats = Answer.objects.values("task_id", "worker_id").annotate(n=Count("id")).filter(n__gt=1)
    assert not repeats.exists()
    assert Answer.objects.filter(pool=pool).count() == TASKS * OVERLAP

    # Every withdrawal paid exactly once, or failed and refunded.
    ids = [i for c in clients for i in c.withdrawals]
    assert ids, "no withdrawal was asked for"
    transfers = dict(
        SimulatedBankTransfer.objects.values_list("payer_reference")
        .annotate(n=Count("id"))
        .values_list("payer_reference", "n")
    )
    for withdrawal in Withdrawal.objects.filter(pk__in=ids):
        paid_times = transfers.get(str(withdrawal.pk), 0)
        if withdrawal.status == "paid":
            assert paid_times == 1, f"withdrawal {withdrawal.pk} was paid {paid_times} times"
        else:
            assert withdrawal.status == "failed" and withdrawal.failure_reason
            assert paid_times == 0
    for worker in workers:
        earned = Answer.objects.filter(worker=worker).count()  # 5.00 from the seed pool, 0.10 from the rest
        paid = Withdrawal.objects.filter(worker=worker, status="paid").count() * WITHDRAWAL
        assert balance_for_user(user=worker).available == Decimal("5") + (earned - 1) * Decimal("0.10") - paid
    assert ledger_problems() == []
    call_command("ledger_check", "--no-record")
    assert time.monotonic() - started < 120
