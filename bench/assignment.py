"""Benchmark of the assignment feed against `make serve` on PostgreSQL.

    make bench-assignment                                  # the defaults below
    .venv/bin/python bench/assignment.py --duration 300    # longer realistic runs
    .venv/bin/python bench/assignment.py --sizes 10000 --modes capacity --no-wait-quiet

A fresh database (fairlabel_bench_assignment, dropped and re-created) gets 2,000 workers with API tokens and
one pool per size (default 10,000 and 1,000,000 regular tasks, overlap 3, golden rate 0.1, 200 golden items),
all by generate_series. Then, on one `make serve` (granian, or gunicorn gthread with --web-servers; production
settings):

- inprocess: next + submit through the services in this process, no HTTP, the pools alternating in chunks:
  what the claim costs by pool size, without the server and network around it; then ping, next and submit
  through Django's whole handler in this process (test client, no web server), with the CPU this process
  and its PostgreSQL backend spent on each.
- realistic: many simulated workers (default 2,000), each thinking about 15 s (uniformly 7.5-22.5 s) before
  submitting, so together they offer a fixed rate of next + submit cycles (2,000 / 15 s = 133 per second)
  whatever the server's latency; p50/p95/p99 of next and of submit after a warm-up (in which every worker
  makes their first claim, and at whose end the tables that grew are analyzed), as the client saw them
  and as the server timed them (its access log; this leaves out time queued before a server thread was free).
- capacity: N workers (default 50) with no think time, in slices that alternate with the same clients calling
  the trivial authenticated endpoint GET /api/v1/ping/; `ping/s / 2 / cycles/s` says how many pairs of trivial
  requests one next + submit cycle costs, and the server's and PostgreSQL's CPU per cycle and per ping say
  the same from the CPU side.
- pairs: two or more servers (--web-servers granian,gunicorn) up at once, the capacity load sent to each in
  turn for --server-rounds rounds (A B, then B A); each round's figures are compared with each other, so the
  machine's drift between rounds drops out. Naming one server twice is an A/A control of the method.

After each pool's runs the database is checked: tasks given more places or answers than max_answers, a
worker meeting a task twice, and places that do not add up (remaining + active + submitted != max_answers).

The machine is shared: before each run the script waits (up to 10 minutes) for other processes to go quiet,
and prints the CPU other processes used during each measurement next to the figures. The load generator is
one asyncio process with aiohttp (about a tenth of httpx's CPU per request) on the same two cores as the
server and PostgreSQL; its CPU share and its event loop's lag are printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import signal
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import _common  # bench/ is on sys.path when this file is run as a script
import aiohttp

LABELS = ["OK", "Bad"]
DATABASE_URL = _common.bench_database_url("assignment")


@dataclass
class Recorder:
    """Latencies of requests that started inside the measurement window."""

    window_start: float = 0.0
    window_end: float = math.inf
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    def inside(self, started: float) -> bool:
        return self.window_start <= started < self.window_end

    def record(self, kind: str, started: float, elapsed: float, status: int | str) -> None:
        if self.inside(started):
            self.latencies.setdefault(kind, []).append(elapsed)
            self.statuses[f"{kind} {status}"] += 1


@dataclass
class Usage:
    """CPU counters of each party, read from /proc; two samples give the CPU seconds spent in between."""

    wall: float
    server: float
    postgres: dict[int, float]
    generator: float
    machine: float  # every process on the machine, the other engineers' work included

    @classmethod
    def sample(cls, server: _common.Server) -> Usage:
        return cls(
            wall=time.monotonic(),
            server=server.cpu_seconds(),
            postgres=_common.postgres_cpu_by_pid(database=_common.database_name(DATABASE_URL)),
            generator=time.process_time(),
            machine=_common.machine_cpu_seconds(),
        )

    def since(self, before: Usage) -> dict[str, float]:
        """Seconds of wall time and of each party's CPU between `before` and this sample."""
        # Per process, so a PostgreSQL process that ends in the window cannot make the sum go down.
        postgres = sum(cpu - before.postgres.get(pid, 0.0) for pid, cpu in self.postgres.items())
        spent = {
            "wall": self.wall - before.wall,
            "server": self.server - before.server,
            "postgres": postgres,
            "generator": self.generator - before.generator,
        }
        machine = self.machine - before.machine
        spent["other"] = max(0.0, machine - spent["server"] - spent["postgres"] - spent["generator"])
        return spent


async def _loop_lag(stop: asyncio.Event, lags: list[float], recorder: Recorder) -> None:
    """How late a 10 ms timer fires: time the generator's own event loop adds to every measured latency."""
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(0.01)
        if recorder.inside(time.monotonic()):
            lags.append(time.perf_counter() - started - 0.01)


async def _pause(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep unless the run stops first; True if it is time to stop."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


async def _timed(
    session: aiohttp.ClientSession,
    recorder: Recorder,
    kind: str,
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
) -> tuple[int, Any] | None:
    """One request, timed until its body is read; (status, parsed JSON body or None), or None if it failed."""
    started = time.monotonic()
    t0 = time.perf_counter()
    try:
        async with session.request(method, url, json=body, headers=headers) as response:
            payload = await response.json() if response.status == 200 else await response.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        recorder.errors[f"{kind} {type(exc).__name__}"] += 1
        return None
    recorder.record(kind, started, time.perf_counter() - t0, response.status)
    return response.status, payload


async def _worker_loop(
    *,
    session: aiohttp.ClientSession,
    token: str,
    pool_id: int,
    think: float,
    stop: asyncio.Event,
    recorder: Recorder,
    rng: random.Random,
    accuracy: float,
) -> None:
    headers = {"Authorization": f"Token {token}"}
    if think > 0 and await _pause(stop, rng.uniform(0, think)):  # arrivals spread over one think time
        return
    while not stop.is_set():
        response = await _timed(
            session,
            recorder,
            "next",
            "POST",
            "/api/v1/assignments/next/",
            headers=headers,
            body={"pool": pool_id},
        )
        if response is None or response[0] != 200:
            if await _pause(stop, max(think, 1.0)):
                return
            continue
        assignment_id = response[1]["id"]
        if think > 0 and await _pause(stop, rng.uniform(0.5 * think, 1.5 * think)):
            return
        await _timed(
            session,
            recorder,
            "submit",
            "POST",
            f"/api/v1/assignments/{assignment_id}/submit/",
            headers=headers,
            # Golden items are labelled OK: a worker this accurate keeps the pool's skill rule satisfied.
            body={"label": "OK" if rng.random() < accuracy else "Bad"},
        )


async def _ping_loop(
    *, session: aiohttp.ClientSession, token: str, stop: asyncio.Event, recorder: Recorder
) -> None:
    headers = {"Authorization": f"Token {token}"}
    while not stop.is_set():
        await _timed(session, recorder, "ping", "GET", "/api/v1/ping/", headers=headers)


@dataclass
class RunResult:
    recorder: Recorder
    usage: dict[str, float]  # seconds: "wall" and the CPU of each party
    lags: list[float]
    in_app: dict[str, list[float]]  # the server's own timing of each request, from its access log

    @property
    def seconds(self) -> float:
        return self.usage["wall"]

    @property
    def loop_lag_p99_ms(self) -> float:
        return _common.percentile(sorted(self.lags), 0.99) * 1000 if self.lags else float("nan")

    def count(self, kind: str) -> int:
        return len(self.recorder.latencies.get(kind, []))

    def per_request_ms(self, kind: str, *, requests: int) -> float:
        """Server + PostgreSQL CPU per request of `kind` (or per cycle), in milliseconds."""
        return (self.usage["server"] + self.usage["postgres"]) / max(1, requests) * 1000


def _merge(results: list[RunResult]) -> RunResult:
    """Several slices of one mode as one result (the capacity mode alternates slices of cycles and pings)."""
    recorder = Recorder()
    usage: dict[str, float] = Counter()
    lags: list[float] = []
    in_app: dict[str, list[float]] = {}
    for result in results:
        for kind, values in result.in_app.items():
            in_app.setdefault(kind, []).extend(values)
        for kind, values in result.recorder.latencies.items():
            recorder.latencies.setdefault(kind, []).extend(values)
        recorder.statuses.update(result.recorder.statuses)
        recorder.errors.update(result.recorder.errors)
        usage.update(result.usage)
        lags.extend(result.lags)
    return RunResult(recorder=recorder, usage=dict(usage), lags=lags, in_app=in_app)


async def _run(
    *,
    server: _common.Server,
    tokens: list[str],
    pool_id: int | None,
    think: float,
    warmup: float,
    duration: float,
    connections: int,
    seed: int,
    accuracy: float,
) -> RunResult:
    """Run one mode: workers (pool_id given) or ping clients (pool_id None), measuring after the warm-up."""
    recorder = Recorder()
    stop = asyncio.Event()
    lags: list[float] = []
    # Simulated workers share a pool of connections, as they would behind a proxy. The keep-alive is below
    # gunicorn's 2 s, so the client drops an idle connection before the server does (granian keeps them longer).
    connector = aiohttp.TCPConnector(limit=connections, keepalive_timeout=1.5)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(server.url, connector=connector, timeout=timeout) as session:
        now = time.monotonic()
        recorder.window_start = now + warmup
        recorder.window_end = recorder.window_start + duration
        jobs = [asyncio.create_task(_loop_lag(stop, lags, recorder))]
        for i, token in enumerate(tokens):
            if pool_id is None:
                jobs.append(
                    asyncio.create_task(
                        _ping_loop(session=session, token=token, stop=stop, recorder=recorder)
                    )
                )
            else:
                rng = random.Random(seed * 1_000_003 + i)
                jobs.append(
                    asyncio.create_task(
                        _worker_loop(
                            session=session,
                            token=token,
                            pool_id=pool_id,
                            think=think,
                            stop=stop,
                            recorder=recorder,
                            rng=rng,
                            accuracy=accuracy,
                        )
                    )
                )
        if pool_id is not None and warmup > 10:
            # The answers, assignments and ledger tables grew from empty during the warm-up, and PostgreSQL
            # plans their queries (the ledger's triggers included) on the statistics it has, the empty
            # tables', until autovacuum's next round (up to a minute here) looks at them again. A platform in
            # use has current statistics: take them now, a few seconds before measuring.
            await asyncio.sleep(max(0.0, recorder.window_start - 5 - time.monotonic()))
            await asyncio.to_thread(_analyze_growing_tables)
        await asyncio.sleep(max(0.0, recorder.window_start - time.monotonic()))
        before, log_start = Usage.sample(server), server.log_offset()
        await asyncio.sleep(max(0.0, recorder.window_end - time.monotonic()))
        after, log_end = Usage.sample(server), server.log_offset()
        stop.set()
        # Requests in flight finish (the database check afterwards must see them committed).
        await asyncio.wait_for(asyncio.gather(*jobs), timeout=120)
    in_app: dict[str, list[float]] = {}
    for method, path, status, seconds in server.access_log(log_start, log_end):
        kind = _kind(method, path)
        if kind is not None and status in (200, 204):
            in_app.setdefault(kind, []).append(seconds)
    return RunResult(recorder=recorder, usage=after.since(before), lags=lags, in_app=in_app)


def _analyze_growing_tables() -> None:
    import psycopg

    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        conn.execute(
            "ANALYZE tasks_assignment, tasks_answer, tasks_workerpoolstats, payouts_account, "
            "payouts_ledgertransaction, payouts_entry"
        )


def _kind(method: str, path: str) -> str | None:
    if method == "POST" and path == "/api/v1/assignments/next/":
        return "next"
    if method == "POST" and path.startswith("/api/v1/assignments/") and path.endswith("/submit/"):
        return "submit"
    if method == "GET" and path == "/api/v1/ping/":
        return "ping"
    return None


# ------------------------------------------------------------------------------------------------ data


def _create_pool(*, requester_id: int, tasks: int, golden: int, overlap: int, golden_rate: float) -> int:
    """A draft pool with `tasks` regular and `golden` golden tasks, inserted by generate_series."""
    from django.db import connection, transaction

    from accounts.models import User
    from tasks.services import PoolSettings, pool_create

    requester = User.objects.get(pk=requester_id)
    pool = pool_create(
        requester=requester,
        settings=PoolSettings(
            name=f"bench {tasks:,} tasks",
            instructions="Is this item OK?",
            labels=LABELS,
            reward=Decimal("0.01"),
            overlap=overlap,
            golden_rate=golden_rate,
            assignment_ttl=600,
        ),
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO tasks_task (pool_id, data, golden_label, external_id, max_answers, answers_count,
                                    remaining)
            SELECT %(pool)s, jsonb_build_object('text', 'listing ' || i || ': a used bicycle, good condition'),
                   NULL, 'item-' || i, %(overlap)s, 0, %(overlap)s
            FROM generate_series(1, %(tasks)s) AS i
            """,
            {"pool": pool.pk, "tasks": tasks, "overlap": overlap},
        )
        cursor.execute(
            """
            INSERT INTO tasks_task (pool_id, data, golden_label, external_id, max_answers, answers_count,
                                    remaining)
            SELECT %(pool)s, jsonb_build_object('text', 'listing g' || i || ': a kitchen chair'), 'OK',
                   'gold-' || i, %(overlap)s, 0, 0
            FROM generate_series(1, %(golden)s) AS i
            """,
            {"pool": pool.pk, "golden": golden, "overlap": overlap},
        )
    return pool.pk


def _set_up(
    *, sizes: list[int], workers: int, golden: int, overlap: int, golden_rate: float
) -> dict[str, Any]:
    started = time.monotonic()
    _common.recreate_database(DATABASE_URL)
    _common.setup_django(DATABASE_URL)
    _common.migrate()
    from django.db import connection

    from accounts.models import User
    from payouts.services import deposit_create

    ((requester_id, _),) = _common.create_users(prefix="bench-requester-", count=1, role="requester")
    worker_rows = _common.create_users(prefix="bench-worker-", count=workers, role="worker")
    deposit_create(user=User.objects.get(pk=requester_id), amount=Decimal(10_000_000))
    pools = {
        size: _create_pool(
            requester_id=requester_id, tasks=size, golden=golden, overlap=overlap, golden_rate=golden_rate
        )
        for size in sizes
    }
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(
        f"set-up: {workers:,} workers, pools {', '.join(f'{s:,}' for s in sizes)} "
        f"in {time.monotonic() - started:.1f} s"
    )
    return {"requester": requester_id, "tokens": [key for _, key in worker_rows], "pools": pools}


def _open(pool_id: int) -> None:
    from tasks.models import Pool
    from workflows.pools import pool_open

    pool_open(pool=Pool.objects.get(pk=pool_id))


def _close(pool_id: int) -> None:
    from tasks.models import Pool
    from workflows.pools import pool_close

    pool_close(pool=Pool.objects.get(pk=pool_id))


def _service_times(
    *, pools: dict[int, int], tokens: list[str], cycles: int, chunk: int, accuracy: float, seed: int
) -> dict[int, dict[str, list[float]]]:
    """next + submit through the services in this process (no HTTP), pools alternating in chunks.

    Alternating keeps the comparison between pool sizes fair on a shared machine: whatever else runs falls on
    both. Returns wall-clock seconds per call, and CPU seconds of this process per call ("*_cpu").
    """
    from accounts.models import User
    from workflows.assignments import assignment_next, assignment_submit

    users = list(User.objects.filter(auth_token__key__in=tokens).order_by("pk"))
    rng = random.Random(seed)
    times: dict[int, dict[str, list[float]]] = {
        size: {"next": [], "submit": [], "next_cpu": [], "submit_cpu": []} for size in pools
    }
    turn = 0
    for _ in range(max(1, cycles // chunk)):
        for size, pool_id in pools.items():
            for _ in range(chunk):
                worker = users[turn % len(users)]
                turn += 1
                wall, cpu = time.perf_counter(), time.process_time()
                assignment = assignment_next(worker=worker, pool_id=pool_id)
                times[size]["next"].append(time.perf_counter() - wall)
                times[size]["next_cpu"].append(time.process_time() - cpu)
                if assignment is None:
                    continue
                label = "OK" if rng.random() < accuracy else "Bad"
                wall, cpu = time.perf_counter(), time.process_time()
                assignment_submit(worker=worker, assignment_id=assignment.pk, answer=label)
                times[size]["submit"].append(time.perf_counter() - wall)
                times[size]["submit_cpu"].append(time.process_time() - cpu)
    return times


def _backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    return int(pid)


def _cpu_of(pid: int) -> float | None:
    """CPU seconds of a process on this machine, from /proc (None if it is not here: PostgreSQL elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _request_costs(
    *, pool_id: int, tokens: list[str], cycles: int, accuracy: float, seed: int
) -> dict[str, Any]:
    """CPU per API request through Django's whole handler (middleware, DRF, authentication, the view) in this
    process, without a web server: this process's CPU and its PostgreSQL backend's, for ping, next and submit.
    Pings and cycles alternate in chunks so that whatever else runs falls on both."""
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    rng = random.Random(seed)
    backend = _backend_pid()  # the connection persists (CONN_MAX_AGE); checked again at the end
    spent: dict[str, list[float]] = {kind: [0.0, 0.0, 0.0] for kind in ("ping", "next", "submit")}

    def timed(kind: str, token: str, path: str, body: dict[str, Any] | None = None) -> Any:
        auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Token {token}", "secure": True}
        cpu, pg = time.process_time(), _cpu_of(backend)
        if body is None:
            response = client.get(path, **auth)
        else:
            response = client.post(path, body, content_type="application/json", **auth)
        pg_after = _cpu_of(backend)
        spent[kind][0] += time.process_time() - cpu
        spent[kind][1] += (pg_after - pg) if pg_after is not None and pg is not None else math.nan
        spent[kind][2] += 1
        return response

    turn = 0
    for _ in range(max(1, cycles // 50)):
        for _ in range(50):
            token = tokens[turn % len(tokens)]
            turn += 1
            timed("ping", token, "/api/v1/ping/")
            response = timed("next", token, "/api/v1/assignments/next/", {"pool": pool_id})
            if response.status_code != 200:
                continue
            label = "OK" if rng.random() < accuracy else "Bad"
            timed("submit", token, f"/api/v1/assignments/{response.json()['id']}/submit/", {"label": label})
    if _backend_pid() != backend:  # reconnected part-way: the backend's figures would be of the wrong process
        for kind in spent:
            spent[kind][1] = math.nan
    return {
        kind: {"python_ms": py / n * 1000, "postgres_ms": pg / n * 1000, "n": int(n)}
        for kind, (py, pg, n) in spent.items()
        if n
    }


def _check(pool_id: int) -> dict[str, int]:
    """Count what must never happen, straight from the tables (not from the server's own counters)."""
    from django.db import connection

    queries = {
        # More live places (active or submitted assignments) or answers than the task allows.
        "over_assigned_tasks": """
            SELECT count(*) FROM tasks_task t
            LEFT JOIN (SELECT task_id, count(*) AS live FROM tasks_assignment
                       WHERE pool_id = %(pool)s AND NOT is_golden AND status IN ('active', 'submitted')
                       GROUP BY task_id) a ON a.task_id = t.id
            LEFT JOIN (SELECT task_id, count(*) AS answers FROM tasks_answer
                       WHERE pool_id = %(pool)s AND NOT is_golden GROUP BY task_id) b ON b.task_id = t.id
            WHERE t.pool_id = %(pool)s AND t.golden_label IS NULL
              AND (t.answers_count > t.max_answers OR a.live > t.max_answers OR b.answers > t.max_answers)
        """,
        # A worker given the same task (golden or not) twice, or answering it twice.
        "repeated_workers": """
            SELECT (SELECT count(*) FROM (SELECT 1 FROM tasks_assignment WHERE pool_id = %(pool)s
                                          GROUP BY task_id, worker_id HAVING count(*) > 1) x)
                 + (SELECT count(*) FROM (SELECT 1 FROM tasks_answer WHERE pool_id = %(pool)s
                                          GROUP BY task_id, worker_id HAVING count(*) > 1) y)
        """,
        # Places are conserved: free + held by active assignments + submitted = max_answers, for every task.
        "place_mismatches": """
            SELECT count(*) FROM tasks_task t
            LEFT JOIN (SELECT task_id, count(*) AS live FROM tasks_assignment
                       WHERE pool_id = %(pool)s AND NOT is_golden AND status IN ('active', 'submitted')
                       GROUP BY task_id) a ON a.task_id = t.id
            WHERE t.pool_id = %(pool)s AND t.golden_label IS NULL
              AND t.remaining + coalesce(a.live, 0) <> t.max_answers
        """,
        "assignments": "SELECT count(*) FROM tasks_assignment WHERE pool_id = %(pool)s",
        "golden_assignments": "SELECT count(*) FROM tasks_assignment WHERE pool_id = %(pool)s AND is_golden",
        "answers": "SELECT count(*) FROM tasks_answer WHERE pool_id = %(pool)s",
    }
    found = {}
    with connection.cursor() as cursor:
        for name, sql in queries.items():
            cursor.execute(sql, {"pool": pool_id})
            found[name] = int(cursor.fetchone()[0])
    return found


# --------------------------------------------------------------------------------------------- report


def _ms(values: list[float], fraction: float) -> float:
    return _common.percentile(values, fraction) * 1000


def _latency_line(kind: str, values: list[float], *, where: str = "client") -> str:
    values.sort()
    label = f"{kind} ({where})"
    if not values:
        return f"  {label:28} no requests"
    return (
        f"  {label:28} n={len(values):6}  p50 {_ms(values, 0.5):7.1f} ms  p95 {_ms(values, 0.95):7.1f} ms  "
        f"p99 {_ms(values, 0.99):7.1f} ms  max {values[-1] * 1000:8.1f} ms"
    )


def _usage_line(result: RunResult) -> str:
    """Each party's CPU as a share of one core over the window (2.00 would be both cores busy)."""
    u = {k: v / result.seconds for k, v in result.usage.items() if k != "wall"}
    return (
        f"  cpu (cores): server {u['server']:.2f}  postgres {u['postgres']:.2f}  "
        f"load generator {u['generator']:.2f}  other processes {u['other']:.2f}  "
        f"| event-loop lag p99 {result.loop_lag_p99_ms:.1f} ms"
    )


def _statuses_line(result: RunResult) -> str:
    rec = result.recorder
    parts = [f"{k}: {v}" for k, v in sorted(rec.statuses.items())]
    parts += [f"{k}: {v}" for k, v in sorted(rec.errors.items())]
    return "  responses: " + ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="10000,1000000", help="pool sizes in regular tasks, comma-separated"
    )
    parser.add_argument("--modes", default="inprocess,realistic,capacity")
    parser.add_argument("--inprocess-cycles", type=int, default=1000, help="cycles per pool, in-process mode")
    parser.add_argument("--inprocess-workers", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2000, help="simulated workers in the realistic mode")
    parser.add_argument("--think", type=float, default=15.0, help="mean think time per task, seconds")
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds per realistic run")
    parser.add_argument(
        "--warmup",
        type=float,
        default=45.0,
        help="seconds before measuring (realistic): every simulated worker's first cycle falls in it",
    )
    parser.add_argument("--capacity-workers", type=int, default=50)
    parser.add_argument(
        "--capacity-duration",
        type=float,
        default=30.0,
        help="measured seconds of cycles, and as many of pings, per capacity run",
    )
    parser.add_argument("--capacity-warmup", type=float, default=3.0, help="seconds before each slice")
    parser.add_argument(
        "--capacity-rounds", type=int, default=3, help="alternating slices of cycles and pings"
    )
    parser.add_argument("--connections", type=int, default=100, help="client connections (realistic mode)")
    parser.add_argument("--overlap", type=int, default=3)
    parser.add_argument("--golden-rate", type=float, default=0.1)
    parser.add_argument("--golden", type=int, default=200, help="golden tasks per pool")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=8)
    parser.add_argument(
        "--web-servers",
        default="granian",
        help="WSGI servers to run the HTTP modes on, one after the other: granian (make serve's) and/or "
        "gunicorn (gthread)",
    )
    parser.add_argument(
        "--server-rounds", type=int, default=1, help="times to go through --web-servers (A, B, A, B, ...)"
    )
    parser.add_argument(
        "--pair-seconds", type=float, default=10.0, help="measured seconds per server and round (pairs mode)"
    )
    parser.add_argument(
        "--accuracy",
        type=float,
        default=0.98,
        help="share of answers a simulated worker gets right (below the pool's min_skill they get restricted)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-wait-quiet",
        dest="wait_quiet",
        action="store_false",
        help="start each run at once instead of waiting (up to 10 min) for other processes to go quiet",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s]
    modes = [m for m in args.modes.split(",") if m]
    if not set(modes) <= {"inprocess", "realistic", "capacity", "pairs"}:
        parser.error("--modes takes inprocess, realistic, capacity and/or pairs")
    web_servers = [w for w in args.web_servers.split(",") if w]
    if not web_servers or not set(web_servers) <= {"gunicorn", "granian"}:
        parser.error("--web-servers takes gunicorn and/or granian")
    if "pairs" in modes and len(web_servers) < 2:
        parser.error("--modes pairs compares two or more --web-servers")

    # A plain SIGTERM would skip the `finally` that stops the server: turn it into an exit that runs it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    print(f"load average before set-up: {_common.load_average()}")
    data = _set_up(
        sizes=sizes,
        workers=max(args.workers, args.capacity_workers),
        golden=args.golden,
        overlap=args.overlap,
        golden_rate=args.golden_rate,
    )
    tokens: list[str] = data["tokens"]
    report: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}, "runs": []}
    failed = False
    for pool_id in data["pools"].values():
        _open(pool_id)
    if "inprocess" in modes:
        _quiet(args)
        print(
            f"\n== in-process: next + submit through the services, no HTTP, {args.inprocess_cycles} cycles "
            f"per pool in alternating chunks (load average {_common.load_average()})"
        )
        before = _common.machine_cpu_seconds(), time.monotonic(), time.process_time()
        service = _service_times(
            pools=data["pools"],
            tokens=tokens[-args.inprocess_workers :],
            cycles=args.inprocess_cycles,
            chunk=50,
            accuracy=args.accuracy,
            seed=args.seed,
        )
        wall = time.monotonic() - before[1]
        others = (_common.machine_cpu_seconds() - before[0] - (time.process_time() - before[2])) / wall
        for size, found in service.items():
            for kind in ("next", "submit"):
                cpu = found[f"{kind}_cpu"]
                print(
                    _latency_line(f"{kind} {size:,}", found[kind], where="service")
                    + f"  cpu mean {sum(cpu) / max(1, len(cpu)) * 1000:.2f} ms"
                )
        if len(service) > 1:
            small, large = min(service), max(service)
            p99 = {size: _ms(sorted(service[size]["next"]), 0.99) for size in (small, large)}
            print(f"  next p99, {large:,} against {small:,} tasks: {p99[large] / p99[small]:.2f}x")
        print(f"  other processes: {others:.2f} cores")
        print(
            "  through Django's handler in this process (middleware, DRF, token check, view; no web "
            "server), CPU per request:"
        )
        # The cycles above were the warm-up; the statistics of the tables they grew are taken now, as on a
        # platform in use (see _run), so the prepared statements below are planned on them.
        _analyze_growing_tables()
        costs = {}
        for size, pool_id in data["pools"].items():
            costs[size] = _request_costs(
                pool_id=pool_id,
                tokens=tokens[-args.inprocess_workers :],
                cycles=args.inprocess_cycles,
                accuracy=args.accuracy,
                seed=args.seed,
            )
            line = ", ".join(
                f"{kind} {c['python_ms']:.2f} + {c['postgres_ms']:.2f} ms" for kind, c in costs[size].items()
            )
            print(f"    pool {size:,} (Python + PostgreSQL): {line}")
            cycle = sum(
                costs[size][k]["python_ms"] + costs[size][k]["postgres_ms"] for k in ("next", "submit")
            )
            ping = costs[size]["ping"]["python_ms"] + costs[size]["ping"]["postgres_ms"]
            print(
                f"      a cycle costs {cycle:.2f} ms, {cycle / (2 * ping):.2f} ping pairs (no HTTP server on either)"
            )
        report["runs"].append(
            {
                "mode": "inprocess",
                **{
                    f"{size}_{kind}": {
                        p: _ms(sorted(v), f) for p, f in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
                    }
                    for size, found in service.items()
                    for kind, v in found.items()
                    if not kind.endswith("_cpu")
                },
                "requests": costs,
            }
        )
    http_modes = [m for m in modes if m in ("realistic", "capacity")]
    for server_round in range(args.server_rounds if http_modes else 0):
        for web_server in web_servers:
            with _common.serve(
                url=DATABASE_URL,
                workers=args.web_workers,
                threads=args.web_threads,
                ready_token=tokens[0],
                web_server=web_server,
            ) as server:
                print(
                    f"\nserver: {web_server} ({args.web_workers} workers x {args.web_threads} threads) at "
                    f"{server.url}, round {server_round + 1} of {args.server_rounds}"
                )
                for size in sizes:
                    pool_id = data["pools"][size]
                    for mode in http_modes:
                        print(
                            f"\n== {mode}, {web_server}, pool of {size:,} tasks (load average {_common.load_average()})"
                        )
                        runner = _realistic if mode == "realistic" else _capacity
                        report["runs"].append(
                            runner(
                                args=args,
                                server=server,
                                tokens=tokens,
                                pool_id=pool_id,
                                size=size,
                                web_server=web_server,
                            )
                        )
    if "pairs" in modes:
        largest = max(sizes)
        report["runs"].append(
            {
                "mode": "pairs",
                "size": largest,
                "rounds": _server_pairs(
                    args=args, web_servers=web_servers, pool_id=data["pools"][largest], tokens=tokens
                ),
            }
        )
    for size in sizes:
        pool_id = data["pools"][size]
        found = _check(pool_id)
        print(f"\n== database check, pool of {size:,}: " + ", ".join(f"{k} {v:,}" for k, v in found.items()))
        report["runs"].append({"check": size, **found})
        failed |= any(found[k] for k in ("over_assigned_tasks", "repeated_workers", "place_mismatches"))
        _close(pool_id)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    print(
        f"\nload average at the end: {_common.load_average()}; {(time.monotonic() - started) / 60:.1f} minutes in all"
    )
    if failed:
        sys.exit("FAILED: the database holds over-assigned tasks, repeated workers or lost places")


def _realistic(
    *,
    args: argparse.Namespace,
    server: _common.Server,
    tokens: list[str],
    pool_id: int,
    size: int,
    web_server: str,
) -> dict[str, Any]:
    """Many workers thinking between tasks: latency at a fixed offered rate."""
    _quiet(args)
    result = asyncio.run(
        _run(
            server=server,
            tokens=tokens[: args.workers],
            pool_id=pool_id,
            think=args.think,
            warmup=args.warmup,
            duration=args.duration,
            connections=args.connections,
            seed=args.seed,
            accuracy=args.accuracy,
        )
    )
    lat = result.recorder.latencies
    cycles = len(lat.get("submit", [])) / result.seconds
    print(
        f"  {args.workers:,} workers, think {args.think:g} s: "
        f"offered ~{args.workers / args.think:.0f} cycles/s, completed {cycles:.1f} cycles/s"
    )
    print(_latency_line("next", lat.get("next", [])))
    print(_latency_line("submit", lat.get("submit", [])))
    print(_latency_line("next", result.in_app.get("next", []), where="in the app"))
    print(_latency_line("submit", result.in_app.get("submit", []), where="in the app"))
    print(_usage_line(result))
    print(_statuses_line(result))
    return {**_run_json("realistic", size, result, cycles_per_s=cycles), "web_server": web_server}


def _capacity(
    *,
    args: argparse.Namespace,
    server: _common.Server,
    tokens: list[str],
    pool_id: int,
    size: int,
    web_server: str,
) -> dict[str, Any]:
    """Workers without think time, slices of cycles alternating with slices of pings."""
    # Slices of cycles and of pings alternate, so load from other processes on the shared
    # machine, if any, falls on both sides of the ratio rather than on one.
    slice_seconds = args.capacity_duration / args.capacity_rounds
    cycle_slices, ping_slices = [], []
    for _ in range(args.capacity_rounds):
        _quiet(args)
        for pool_or_ping, into in ((pool_id, cycle_slices), (None, ping_slices)):
            into.append(
                _capacity_slice(
                    args=args,
                    server=server,
                    tokens=tokens,
                    pool_id=pool_or_ping,
                    warmup=args.capacity_warmup,
                    duration=slice_seconds,
                    seed=args.seed,
                )
            )
    result, ping = _merge(cycle_slices), _merge(ping_slices)
    cycles = result.count("submit") / result.seconds
    pings = ping.count("ping") / ping.seconds
    ratio = pings / 2 / cycles if cycles else math.inf
    cycle_cpu = result.per_request_ms("cycle", requests=result.count("submit"))
    ping_cpu = ping.per_request_ms("ping", requests=ping.count("ping"))
    cpu_ratio = cycle_cpu / (2 * ping_cpu) if ping_cpu else math.inf
    print(
        f"  {args.capacity_workers} workers, no think time: {cycles:.1f} cycles/s "
        f"(next + submit), {args.capacity_rounds} slices of {slice_seconds:g} s"
    )
    print(_latency_line("next", result.recorder.latencies.get("next", [])))
    print(_latency_line("submit", result.recorder.latencies.get("submit", [])))
    print(_latency_line("next", result.in_app.get("next", []), where="in the app"))
    print(_latency_line("submit", result.in_app.get("submit", []), where="in the app"))
    print(_usage_line(result))
    print(_statuses_line(result))
    print(f"  ping, same clients, slices in between: {pings:.1f} requests/s")
    print(_latency_line("ping", ping.recorder.latencies.get("ping", [])))
    print(_latency_line("ping", ping.in_app.get("ping", []), where="in the app"))
    print(_usage_line(ping))
    print(
        f"  one cycle costs {ratio:.2f} ping pairs in throughput (target <= 3); "
        f"server + PostgreSQL CPU: {cycle_cpu:.1f} ms per cycle, {ping_cpu:.2f} ms per ping "
        f"({cpu_ratio:.2f} ping pairs)"
    )
    run = _run_json("capacity", size, result, cycles_per_s=cycles)
    run["web_server"] = web_server
    run.update(
        ping_per_s=pings,
        cycle_in_ping_pairs=ratio,
        cpu_ms_per_cycle=cycle_cpu,
        cpu_ms_per_ping=ping_cpu,
        ping_usage=ping.usage,
    )
    return run


def _capacity_slice(
    *,
    args: argparse.Namespace,
    server: _common.Server,
    tokens: list[str],
    pool_id: int | None,
    warmup: float,
    duration: float,
    seed: int,
) -> RunResult:
    """--capacity-workers clients without think time: workers on the pool, or pings if pool_id is None."""
    return asyncio.run(
        _run(
            server=server,
            tokens=tokens[: args.capacity_workers],
            pool_id=pool_id,
            think=0,
            warmup=warmup,
            duration=duration,
            connections=args.capacity_workers,
            seed=seed,
            accuracy=args.accuracy,
        )
    )


def _server_pairs(
    *, args: argparse.Namespace, web_servers: list[str], pool_id: int, tokens: list[str]
) -> list[dict[str, Any]]:
    """Every server in `web_servers` up at once; slices of the capacity load go to each in turn (A B, then B A,
    so a machine that drifts faster or slower weighs on both), and each slice's figures are compared with its
    partner's in the same round: the machine's drift between rounds, larger than the difference between two
    servers, drops out of the ratio."""
    rounds: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        # The same server named twice is an A/A control: how far two copies of one server drift apart.
        labels = [
            name if web_servers.count(name) == 1 else f"{name}#{i + 1}" for i, name in enumerate(web_servers)
        ]
        servers = {
            label: stack.enter_context(
                _common.serve(
                    url=DATABASE_URL,
                    workers=args.web_workers,
                    threads=args.web_threads,
                    ready_token=tokens[0],
                    web_server=name,
                )
            )
            for label, name in zip(labels, web_servers, strict=True)
        }
        web_servers = labels
        print(
            f"\n== server pairs: {', '.join(web_servers)} ({args.web_workers} workers x {args.web_threads} "
            f"threads each), {args.capacity_workers} workers without think time, slices of "
            f"{args.pair_seconds:g} s (load average {_common.load_average()})"
        )
        # A first slice on each server grows the tables the claims read, then their statistics are taken, as
        # on a platform in use (see _run); the measured rounds follow.
        for name in web_servers:
            _capacity_slice(
                args=args,
                server=servers[name],
                tokens=tokens,
                pool_id=pool_id,
                warmup=0,
                duration=args.pair_seconds,
                seed=args.seed,
            )
        _analyze_growing_tables()
        for round_number in range(args.server_rounds):
            order = web_servers if round_number % 2 == 0 else web_servers[::-1]
            figures: dict[str, Any] = {}
            for name in order:
                _quiet(args)
                result = _capacity_slice(
                    args=args,
                    server=servers[name],
                    tokens=tokens,
                    pool_id=pool_id,
                    warmup=args.capacity_warmup,
                    duration=args.pair_seconds,
                    seed=args.seed + round_number,
                )
                cycles = result.count("submit") / result.seconds
                figures[name] = {
                    "cycles_per_s": cycles,
                    "cpu_ms_per_cycle": result.per_request_ms("cycle", requests=result.count("submit")),
                    "other_cores": result.usage["other"] / result.seconds,
                    "statuses": dict(result.recorder.statuses),
                }
            first = web_servers[0]
            line = ", ".join(
                f"{name} {f['cycles_per_s']:.1f} cycles/s {f['cpu_ms_per_cycle']:.2f} ms"
                for name, f in figures.items()
            )
            ratios = ", ".join(
                f"{name}/{first} {figures[name]['cycles_per_s'] / figures[first]['cycles_per_s']:.3f} "
                f"(CPU {figures[name]['cpu_ms_per_cycle'] / figures[first]['cpu_ms_per_cycle']:.3f})"
                for name in web_servers[1:]
            )
            others = max(f["other_cores"] for f in figures.values())
            print(f"  round {round_number + 1}: {line}; {ratios}; other processes up to {others:.2f} cores")
            rounds.append(figures)
    first = web_servers[0]
    for name in web_servers[1:]:
        throughput = sorted(r[name]["cycles_per_s"] / r[first]["cycles_per_s"] for r in rounds)
        cpu = sorted(r[name]["cpu_ms_per_cycle"] / r[first]["cpu_ms_per_cycle"] for r in rounds)
        print(
            f"  {name} against {first}, {len(rounds)} pairs: throughput ratio median "
            f"{statistics.median(throughput):.3f} ({throughput[0]:.3f}-{throughput[-1]:.3f}), CPU per cycle "
            f"ratio median {statistics.median(cpu):.3f} ({cpu[0]:.3f}-{cpu[-1]:.3f})"
        )
    return rounds


def _quiet(args: argparse.Namespace) -> None:
    if args.wait_quiet:
        _common.wait_until_quiet()


def _run_json(mode: str, size: int, result: RunResult, *, cycles_per_s: float) -> dict[str, Any]:
    lat = result.recorder.latencies
    figures: dict[str, Any] = {"mode": mode, "size": size, "cycles_per_s": cycles_per_s}
    for kind in ("next", "submit"):
        values = sorted(lat.get(kind, []))
        figures[kind] = {p: _ms(values, f) for p, f in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))}
        figures[kind]["n"] = len(values)
    for kind, values in result.in_app.items():
        values = sorted(values)
        figures[f"{kind}_in_app"] = {
            p: _ms(values, f) for p, f in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
        }
    figures["usage"] = result.usage
    figures["loop_lag_p99_ms"] = result.loop_lag_p99_ms
    figures["statuses"] = dict(result.recorder.statuses)
    figures["errors"] = dict(result.recorder.errors)
    return figures


if __name__ == "__main__":
    main()
