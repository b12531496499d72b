"""Settlement benchmark: how fast a submitted answer becomes money the worker can cash out.

    make bench-settlement                      # or: .venv/bin/python bench/settlement.py
    .venv/bin/python bench/settlement.py --clients 50 --seconds 20 --rounds 2

What it measures, on PostgreSQL with a real HTTP server (gunicorn, gthread) and 50 client threads, each a
worker with its own token and keep-alive connection:

1. Throughput: every client loops POST /assignments/next/ then POST /assignments/<id>/submit/ for --seconds;
   submits per second over the window (after a warm-up), with the ledger posting and without it (the server
   replaces `workflows.assignments.answer_credit` with a no-op: no accounts, no ledger rows). Rounds alternate
   on/off so drift in the machine's load hits both alike.
2. Settlement latency (ledger on): after each submit response, the client polls GET /api/v1/me/ until its
   available balance includes that reward; the time from the submit's response to that GET's response.
   It also counts how many submit responses already carried the new balance in their own body.
3. In-process cost of the posting: one thread calling the submit service directly, with and without the
   posting, and the SQL statements one submit issues.

It uses its own database (BENCH_DATABASE_URL, default .../fairlabel_bench_settlement), dropped and re-created.
The clients run on the same machine as the server and PostgreSQL, so they take CPU from them.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import _common

from workflows import assignments as assignments_flow

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_DATABASE_URL = os.environ.get("BENCH_DATABASE_URL") or _common.bench_database_url("settlement")
REWARD = Decimal("0.01")


# ---------------------------------------------------------------------------------------------- the server


def _disable_ledger() -> None:
    """The "without the ledger posting" server: the submit records the answer and pays nothing."""
    from workflows import assignments

    assignments.answer_credit = lambda **kwargs: None  # type: ignore[assignment]


def make_app() -> Any:
    """gunicorn factory (`settlement:make_app()`); BENCH_LEDGER=off serves submits without the posting."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fairlabel.settings")
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    if os.environ.get("BENCH_LEDGER") == "off":
        _disable_ledger()
    return app


def _server_env(ledger: bool) -> dict[str, str]:
    return os.environ | {
        "DATABASE_URL": BENCH_DATABASE_URL,
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "fairlabel.settings"),
        "SECRET_KEY": "bench-only-not-secret",
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_COOKIES": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DRAMATIQ_BROKER_URL": "",
        "LOG_LEVEL": "WARNING",
        "BENCH_LEDGER": "on" if ledger else "off",
    }


class Server:
    def __init__(self, *, ledger: bool, workers: int, threads: int) -> None:
        self.port = _common.free_port()
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        self.process = subprocess.Popen(
            [
                gunicorn,
                "--chdir",
                str(REPO_ROOT),
                "--pythonpath",
                str(REPO_ROOT / "bench"),
                "settlement:make_app()",
                "-k",
                "gthread",
                "-w",
                str(workers),
                "--threads",
                str(threads),
                "-b",
                f"127.0.0.1:{self.port}",
                # Clients starved of CPU can sit idle for seconds; the default 2 s would drop their connections.
                "--keep-alive",
                "75",
                "--log-level",
                "warning",
                "--backlog",
                "512",
            ],
            env=_server_env(ledger),
            start_new_session=True,
        )

    def wait_ready(self, token: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                status, _ = Client(self.port, token).request("GET", "/api/v1/ping/")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the benchmark server did not start")

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


# ---------------------------------------------------------------------------------------------- the clients


class Client:
    """One worker's keep-alive HTTP connection; the cheapest client Python has, to leave CPU to the server."""

    def __init__(self, port: int, token: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}

    def request(self, method: str, path: str, body: Any = None, *, retry: bool = False) -> tuple[int, Any]:
        """`retry`: the request is safe to send again if the server had closed the connection meanwhile."""
        payload = json.dumps(body) if body is not None else None
        try:
            self.connection.request(method, path, body=payload, headers=self.headers)
            response = self.connection.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            if not retry:
                raise
            self.connection.close()
            self.connection.request(method, path, body=payload, headers=self.headers)
            response = self.connection.getresponse()
        raw = response.read()
        return response.status, (json.loads(raw) if raw else None)


@dataclass
class ClientResult:
    submits: list[float] = field(default_factory=list)  # when each submit's response arrived
    submit_seconds: list[float] = field(default_factory=list)
    settle_seconds: list[float] = field(default_factory=list)
    in_response: int = 0
    most_polls: int = 0  # GETs one settlement needed before the balance showed the reward
    errors: list[str] = field(default_factory=list)


def _client_loop(
    port: int, token: str, start: threading.Barrier, stop_at: list[float], poll: bool, out: ClientResult
) -> None:
    client = Client(port, token)
    expected: Decimal | None = None
    try:
        if poll:
            status, me = client.request("GET", "/api/v1/me/", retry=True)
            expected = Decimal(me["balance"]["available"])
        start.wait()
        while time.perf_counter() < stop_at[0]:
            # Safe to repeat: an unexpired assignment is returned again.
            status, assignment = client.request("POST", "/api/v1/assignments/next/", {}, retry=True)
            if status == 204:
                out.errors.append("ran out of tasks")
                return
            if status != 200:
                out.errors.append(f"next: {status} {assignment}")
                return
            sent = time.perf_counter()
            status, body = client.request(
                "POST", f"/api/v1/assignments/{assignment['id']}/submit/", {"label": "OK"}
            )
            answered = time.perf_counter()
            if status != 200:
                out.errors.append(f"submit: {status} {body}")
                continue
            out.submits.append(answered)
            out.submit_seconds.append(answered - sent)
            if not poll or expected is None:
                continue
            expected += REWARD
            if Decimal(body["balance"]["available"]) >= expected:
                out.in_response += 1
            polls = 0
            while True:
                status, me = client.request("GET", "/api/v1/me/", retry=True)
                polls += 1
                if Decimal(me["balance"]["available"]) >= expected:
                    out.settle_seconds.append(time.perf_counter() - answered)
                    out.most_polls = max(out.most_polls, polls)
                    break
    except Exception as exc:  # reported with the results
        out.errors.append(repr(exc))


@dataclass(frozen=True)
class RunResult:
    ledger: bool
    poll: bool
    submits_per_second: float
    submits: int
    submit_p50_ms: float
    submit_p95_ms: float
    settle_ms: list[float]
    in_response: int
    most_polls: int
    errors: list[str]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def run_clients(
    *, port: int, tokens: list[str], seconds: float, warmup: float, poll: bool, ledger: bool
) -> RunResult:
    barrier = threading.Barrier(len(tokens) + 1)
    stop_at = [float("inf")]
    results = [ClientResult() for _ in tokens]
    threads = [
        threading.Thread(target=_client_loop, args=(port, token, barrier, stop_at, poll, result), daemon=True)
        for token, result in zip(tokens, results, strict=True)
    ]
    for t in threads:
        t.start()
    barrier.wait()
    began = time.perf_counter()
    stop_at[0] = began + warmup + seconds
    for t in threads:
        t.join(timeout=warmup + seconds + 120)
    window_start, window_end = began + warmup, began + warmup + seconds
    times = [t for r in results for t in r.submits]
    in_window = [t for t in times if window_start <= t <= window_end]
    submit_ms = [s * 1000 for r in results for s in r.submit_seconds]
    return RunResult(
        ledger=ledger,
        poll=poll,
        submits_per_second=len(in_window) / seconds,
        submits=len(times),
        submit_p50_ms=percentile(submit_ms, 50),
        submit_p95_ms=percentile(submit_ms, 95),
        settle_ms=[s * 1000 for r in results for s in r.settle_seconds],
        in_response=sum(r.in_response for r in results),
        most_polls=max(r.most_polls for r in results),
        errors=[e for r in results for e in r.errors][:10],
    )


# ---------------------------------------------------------------------------------------------- data


def setup_django() -> None:
    os.environ.setdefault("DRAMATIQ_BROKER_URL", "")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    _common.setup_django(BENCH_DATABASE_URL)


def recreate_database() -> None:
    _common.recreate_database(BENCH_DATABASE_URL)


def create_people(clients: int) -> tuple[Any, list[Any]]:
    from rest_framework.authtoken.models import Token

    from accounts.models import Role, User

    requester = User.objects.create(username="bench-requester", role=Role.REQUESTER)
    workers = [User.objects.create(username=f"bench-worker-{i}", role=Role.WORKER) for i in range(clients)]
    for user in [requester, *workers]:
        Token.objects.create(user=user)
    return requester, workers


def open_pool(requester: Any, tasks: int) -> Any:
    from payouts.services import deposit_create
    from tasks.importing import TaskRow
    from tasks.services import PoolSettings, pool_create
    from workflows.pools import pool_open, tasks_add

    pool = pool_create(
        requester=requester,
        settings=PoolSettings(
            name="bench", instructions="", labels=["OK", "Bad"], reward=REWARD, overlap=1, golden_rate=0.0
        ),
    )
    tasks_add(
        pool=pool,
        rows=(TaskRow(data={"text": f"item {i}"}, golden=None, external_id=None) for i in range(tasks)),
    )
    deposit_create(user=requester, amount=REWARD * 2 * tasks)
    return pool_open(pool=pool)


def close_pool(pool: Any) -> None:
    from workflows.pools import pool_close

    pool_close(pool=pool)


# ---------------------------------------------------------------------------------------------- in-process


def service_cost(requester: Any, worker: Any, n: int, batches: int = 10) -> dict[str, float]:
    """One thread, no HTTP: the submit service's time with and without the posting, and its SQL statements.

    Batches with and without the posting alternate, so a change in the machine's load hits both alike.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tasks import services

    real = services.answer_credit

    def loop(count: int, ledger: bool) -> list[float]:
        services.answer_credit = real if ledger else (lambda **kwargs: None)  # type: ignore[assignment]
        seconds = []
        try:
            for _ in range(count):
                assignment = assignments_flow.assignment_next(worker=worker)
                began = time.perf_counter()
                assignments_flow.assignment_submit(worker=worker, assignment_id=assignment.pk, answer="OK")
                seconds.append(time.perf_counter() - began)
        finally:
            services.answer_credit = real  # type: ignore[assignment]
        return seconds

    pool = open_pool(requester, 2 * n + 40)
    loop(10, True)  # warm caches and connections
    with CaptureQueriesContext(connection) as with_ledger:
        loop(1, True)
    with CaptureQueriesContext(connection) as without_ledger:
        loop(1, False)
    on: list[float] = []
    off: list[float] = []
    for _ in range(batches):
        on += loop(n // batches, True)
        off += loop(n // batches, False)
    close_pool(pool)
    return {
        "on_ms": statistics.median(on) * 1000,
        "off_ms": statistics.median(off) * 1000,
        "queries_on": len(with_ledger.captured_queries),
        "queries_off": len(without_ledger.captured_queries),
    }


# ---------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--web-threads", type=int, default=8)
    parser.add_argument("--service-n", type=int, default=300)
    args = parser.parse_args()

    recreate_database()
    setup_django()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    requester, workers = create_people(args.clients)
    from rest_framework.authtoken.models import Token

    tokens = [Token.objects.get(user=w).key for w in workers]
    # Enough tasks that no run runs dry: generous for a 2-core laptop, checked below.
    tasks_per_run = max(5000, int(args.clients * (args.seconds + args.warmup) * 40))

    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs; PostgreSQL {connection.pg_version}; "
        f"load average {os.getloadavg()[0]:.1f} at start"
    )
    print(
        f"server: gunicorn gthread {args.web_workers} workers x {args.web_threads} threads; {args.clients} clients"
    )
    cost = service_cost(requester, workers[0], args.service_n)
    print(
        f"in-process submit: {cost['on_ms']:.2f} ms with the posting, {cost['off_ms']:.2f} ms without; "
        f"SQL statements per submit {cost['queries_on']} vs {cost['queries_off']}"
    )

    runs: list[RunResult] = []
    plan = [(ledger, False) for _ in range(args.rounds) for ledger in (True, False)] + [(True, True)]
    for ledger, poll in plan:
        pool = open_pool(requester, tasks_per_run)
        connection.close()
        server = Server(ledger=ledger, workers=args.web_workers, threads=args.web_threads)
        try:
            server.wait_ready(tokens[0])
            result = run_clients(
                port=server.port,
                tokens=tokens,
                seconds=args.seconds,
                warmup=args.warmup,
                poll=poll,
                ledger=ledger,
            )
        finally:
            server.stop()
        close_pool(pool)
        runs.append(result)
        label = ("ledger on " if ledger else "ledger off") + (" + balance polling" if poll else "")
        print(
            f"{label:<28} {result.submits_per_second:7.1f} submits/s  submit p50 {result.submit_p50_ms:.1f} ms"
            f" p95 {result.submit_p95_ms:.1f} ms  ({result.submits} submits, load average"
            f" {os.getloadavg()[0]:.1f})" + (f"  errors: {result.errors}" if result.errors else "")
        )

    on = [r.submits_per_second for r in runs if r.ledger and not r.poll]
    off = [r.submits_per_second for r in runs if not r.ledger]
    polled = next(r for r in runs if r.poll)
    cost_share = 1 - statistics.median(on) / statistics.median(off)
    pairs = [1 - a / b for a, b in zip(on, off, strict=True)]
    settle = polled.settle_ms
    print()
    print(f"throughput with posting (median of {len(on)}): {statistics.median(on):.1f} submits/s")
    print(f"throughput without posting (median of {len(off)}): {statistics.median(off):.1f} submits/s")
    print(f"posting costs {cost_share * 100:.1f}% of submit throughput (target: at most 25%)")
    print("  per on/off pair: " + ", ".join(f"{p * 100:.1f}%" for p in pairs))
    print(
        f"submit response -> balance visible on GET /me/: p50 {percentile(settle, 50):.1f} ms, "
        f"p95 {percentile(settle, 95):.1f} ms, p99 {percentile(settle, 99):.1f} ms, max {max(settle):.1f} ms "
        f"over {len(settle)} submits"
    )
    print(f"submit responses already carrying the new balance: {polled.in_response} of {polled.submits}")
    print(f"most GETs any settlement needed before the balance showed the reward: {polled.most_polls}")


if __name__ == "__main__":
    main()
