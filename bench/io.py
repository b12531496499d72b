"""Import and export at scale through the HTTP API (`make bench-io`), and the dashboard with 500 pools.

What runs: a fresh PostgreSQL database, Redis as the dramatiq broker, `make serve` (gunicorn, 2 processes x 8
threads, production settings) and one dramatiq worker process (`manage.py rundramatiq --processes 1`). The
benchmark is an HTTP client of that server, like a requester's script:

1. import: POST /api/v1/pools/{id}/tasks/ with a JSONL file of BENCH_IO_ROWS tasks (1,000,000), answered 202;
   poll the job URL until it has succeeded. Wall time from the first byte sent to the job's success.
2. export: GET /api/v1/pools/{id}/results/?format=csv for those tasks, each with 3 answers (set up in SQL,
   3,000,000 answers, then aggregated once by quality's pool_aggregate, as the scheduled job does, so the
   export reads stored results). Time to the first byte and to the last; the rows are counted. Then the
   same for the 3,000,000 answers (/answers/?format=csv).
3. dashboard: GET /pools/ for a requester with 500 pools (100 tasks and 50 answers each, with their ledger
   entries), 20 times, with a session cookie.

Memory: the resident set (VmRSS) of every process of the web server and of the job worker is sampled every
20 ms; the report gives each tree's size before the step and its peak during it.

Figures go to stdout and var/bench/io.json; docs/benchmarks.md records a run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = os.environ.get(
    "BENCH_IO_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fairlabel_bench_io"
)
ROWS = int(os.environ.get("BENCH_IO_ROWS", "1000000"))
DASHBOARD_POOLS = int(os.environ.get("BENCH_IO_POOLS", "500"))
VAR = ROOT / "var" / "bench-io"
PYTHON = ROOT / ".venv" / "bin" / "python"


# ------------------------------------------------------------------------------------------- set-up helpers


def recreate_database() -> None:
    import psycopg

    name = urlsplit(DATABASE_URL).path.lstrip("/")
    if not name.startswith("fairlabel_bench"):
        sys.exit(f"refusing to recreate {name!r}: the bench database's name must start with fairlabel_bench")
    admin = urlunsplit(urlsplit(DATABASE_URL)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def server_env(broker_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-" + os.urandom(16).hex()),
        "VAR_DIR": str(VAR),
        "IMPORT_DIR": str(VAR / "imports"),
        "DRAMATIQ_BROKER_URL": broker_url,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "API_RATE_USER": "100000/min",
        "DEBUG": "",
        "LOG_LEVEL": "WARNING",
    }


def setup_django() -> None:
    os.environ.update(
        {k: v for k, v in server_env("").items() if k in {"DATABASE_URL", "SECRET_KEY", "VAR_DIR"}}
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fairlabel.settings")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def process_group(
    command: list[str], *, env: dict[str, str], log_name: str
) -> Iterator[subprocess.Popen[bytes]]:
    VAR.mkdir(parents=True, exist_ok=True)
    with (VAR / log_name).open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_http(url: str, token: str, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the server exited ({process.returncode}); see {VAR}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(
                f"{url}/api/v1/ping/", headers={"Authorization": f"Token {token}"}, timeout=2
            ).is_success:
                return
        time.sleep(0.3)
    sys.exit(f"the server did not come up in {timeout:.0f} s; see {VAR}")


# -------------------------------------------------------------------------------------------------- memory


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                raw = Path(f"/proc/{entry}/stat").read_text()
                children.setdefault(int(raw[raw.rindex(")") + 2 :].split()[1]), []).append(int(entry))
    pids, stack = [], [root]
    while stack:
        pid = stack.pop()
        pids.append(pid)
        stack.extend(children.get(pid, []))
    return pids


def tree_rss_mb(root: int) -> float:
    total_kb = 0
    for pid in _tree(root):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
    return total_kb / 1024


@dataclass
class MemorySampler:
    """The peak RSS of each process tree while a step runs (sampled every 20 ms in a thread)."""

    roots: dict[str, int]
    before: dict[str, float] = field(default_factory=dict)
    peak: dict[str, float] = field(default_factory=dict)

    def __enter__(self) -> MemorySampler:
        self.before = {name: tree_rss_mb(pid) for name, pid in self.roots.items()}
        self.peak = dict(self.before)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            for name, pid in self.roots.items():
                self.peak[name] = max(self.peak[name], tree_rss_mb(pid))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def report(self) -> dict[str, dict[str, float]]:
        return {
            name: {
                "before_mb": round(self.before[name], 1),
                "peak_mb": round(self.peak[name], 1),
                "growth_mb": round(self.peak[name] - self.before[name], 1),
            }
            for name in self.roots
        }


# ---------------------------------------------------------------------------------------------------- data


def create_requester(username: str) -> tuple[int, str]:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            WITH u AS (
                INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email,
                                           is_staff, is_active, date_joined, role, public_id)
                VALUES ('!', false, %s, '', '', '', false, true, now(), 'requester', gen_random_uuid())
                RETURNING id)
            INSERT INTO authtoken_token (key, created, user_id)
            SELECT substr(md5(random()::text) || md5(random()::text), 1, 40), now(), id FROM u
            RETURNING user_id, key
            """,
            [username],
        )
        user_id, key = cursor.fetchone()
    return user_id, key


def create_workers(count: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email,
                                       is_staff, is_active, date_joined, role, public_id)
            SELECT '!', false, 'bench-worker-' || i, '', '', '', false, true, now(), 'worker', gen_random_uuid()
            FROM generate_series(1, %s) AS i
            """,
            [count],
        )


def write_jsonl(path: Path, rows: int) -> int:
    """One task per line, like a requester's export from their own system (about 110 bytes a line)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for i in range(1, rows + 1):
            out.write(
                json.dumps(
                    {
                        "data": {"title": f"Listing {i}: oak dining table", "price": f"{i % 997}.00 EUR"},
                        "external_id": f"sku-{i:08d}",
                    }
                )
                + "\n"
            )
    return path.stat().st_size


def add_answers(pool_id: int, *, per_task: int, workers: int) -> int:
    """`per_task` answers on every task of the pool from distinct workers, straight in SQL (set-up only)."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        # Set-up only: skip the foreign-key triggers (the rows are consistent by construction); it cuts
        # minutes off inserting 3,000,000 assignments and answers.
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "SELECT array_agg(id ORDER BY id) FROM accounts_user WHERE username LIKE 'bench-worker-%%'"
        )
        (ids,) = cursor.fetchone()
        cursor.execute(
            """
            INSERT INTO tasks_assignment (task_id, pool_id, worker_id, status, is_golden, created_at, expires_at)
            SELECT t.id, t.pool_id, (%(ids)s::bigint[])[1 + ((t.id + k * 97) %% %(workers)s)], 'submitted', false,
                   now(), now()
            FROM tasks_task t CROSS JOIN generate_series(0, %(per_task)s - 1) AS k
            WHERE t.pool_id = %(pool)s
            """,
            {"ids": ids, "workers": workers, "per_task": per_task, "pool": pool_id},
        )
        cursor.execute(
            """
            INSERT INTO tasks_answer (assignment_id, task_id, pool_id, worker_id, label, submitted_at, duration_ms,
                                      is_golden, correct, flagged_fast, status, reward, reviewed_at, reject_reason)
            SELECT a.id, a.task_id, a.pool_id, a.worker_id,
                   CASE WHEN (a.task_id + a.worker_id) %% 5 = 0 THEN 'Prohibited' ELSE 'OK' END,
                   now() - (random() * interval '2 hours'), 1000 + (a.id %% 9000), false, NULL, false, 'accepted',
                   0.05, NULL, ''
            FROM tasks_assignment a WHERE a.pool_id = %(pool)s
            """,
            {"pool": pool_id},
        )
        count = cursor.rowcount
        cursor.execute(
            "UPDATE tasks_task SET answers_count = %s, remaining = max_answers - %s WHERE pool_id = %s",
            [per_task, per_task, pool_id],
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE tasks_task")
        cursor.execute("VACUUM ANALYZE tasks_answer")
    return count


def dashboard_data(requester_id: int, pools: int) -> None:
    """`pools` open pools of 100 tasks, 50 of them answered, each answer with its ledger entries."""
    from decimal import Decimal

    from django.db import connection, transaction

    from accounts.models import User
    from payouts.services import account_platform_fees, deposit_create
    from tasks.models import Pool
    from workflows.pools import pool_open

    requester = User.objects.get(pk=requester_id)
    deposit_create(user=requester, amount=Decimal("100000"))
    created = Pool.objects.bulk_create(
        [
            Pool(
                requester=requester,
                name=f"Pool {i:03d}",
                labels=["OK", "Prohibited"],
                reward=Decimal("0.05"),
                overlap=1,
                golden_rate=0.0,
            )
            for i in range(pools)
        ]
    )
    ids = [p.pk for p in created]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO tasks_task (pool_id, data, golden_label, external_id, max_answers, answers_count, remaining)
            SELECT p, jsonb_build_object('title', 'item ' || i), NULL, NULL, 1, 0, 1
            FROM unnest(%s::bigint[]) AS p CROSS JOIN generate_series(1, 100) AS i
            """,
            [ids],
        )
    for pool in created:
        pool_open(pool=pool)
    fees = account_platform_fees()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT array_agg(id ORDER BY id) FROM accounts_user WHERE username LIKE 'bench-worker-%%'"
        )
        (workers,) = cursor.fetchone()
        cursor.execute(
            """
            WITH picked AS (
                SELECT id, pool_id, row_number() OVER (PARTITION BY pool_id ORDER BY id) AS n
                FROM tasks_task WHERE pool_id = ANY(%(ids)s)
            )
            INSERT INTO tasks_assignment (task_id, pool_id, worker_id, status, is_golden, created_at, expires_at)
            SELECT id, pool_id, (%(workers)s::bigint[])[1 + (id %% 300)], 'submitted', false, now(), now()
            FROM picked WHERE n <= 50
            """,
            {"ids": ids, "workers": workers},
        )
        cursor.execute(
            """
            INSERT INTO tasks_answer (assignment_id, task_id, pool_id, worker_id, label, submitted_at, duration_ms,
                                      is_golden, correct, flagged_fast, status, reward, reviewed_at, reject_reason)
            SELECT a.id, a.task_id, a.pool_id, a.worker_id, 'OK', now() - (random() * interval '3 hours'), 4000,
                   false, NULL, false, 'accepted', 0.05, NULL, ''
            FROM tasks_assignment a WHERE a.pool_id = ANY(%(ids)s)
            """,
            {"ids": ids},
        )
        cursor.execute(
            "UPDATE tasks_task t SET answers_count = 1, remaining = 0 FROM tasks_answer a WHERE a.task_id = t.id "
            "AND a.pool_id = ANY(%s)",
            [ids],
        )
        # One reward posting per answer, as the submit service makes (reservation -> fees, balanced).
        cursor.execute(
            """
            WITH txn AS (
                INSERT INTO payouts_ledgertransaction (kind, created_at, memo, pool_id)
                SELECT 'answer_reward', a.submitted_at, 'bench answer', a.pool_id
                FROM tasks_answer a WHERE a.pool_id = ANY(%(ids)s)
                RETURNING id, pool_id
            )
            INSERT INTO payouts_entry (transaction_id, account_id, amount)
            SELECT txn.id, acc.id, -0.055 FROM txn
            JOIN payouts_account acc ON acc.pool_id = txn.pool_id AND acc.kind = 'pool_reserved'
            UNION ALL SELECT txn.id, %(fees)s, 0.055 FROM txn
            """,
            {"ids": ids, "fees": fees.pk},
        )
        cursor.execute(
            "UPDATE payouts_account SET balance = balance - 50 * 0.055 WHERE kind = 'pool_reserved' "
            "AND pool_id = ANY(%s)",
            [ids],
        )
        cursor.execute(
            "UPDATE payouts_account SET balance = balance + %s WHERE id = %s",
            [len(ids) * 50 * 0.055, fees.pk],
        )
    with connection.cursor() as cursor:
        for table in ("tasks_task", "tasks_answer", "payouts_entry", "payouts_ledgertransaction"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def session_cookie(user_id: int) -> str:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from accounts.models import User

    user = User.objects.get(pk=user_id)
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return str(store.session_key)


# --------------------------------------------------------------------------------------------------- steps


def bench_import(url: str, token: str, pool_id: int, path: Path, roots: dict[str, int]) -> dict[str, object]:
    import httpx

    headers = {"Authorization": f"Token {token}"}
    with MemorySampler(roots) as memory:
        started = time.perf_counter()
        with path.open("rb") as file:
            response = httpx.post(
                f"{url}/api/v1/pools/{pool_id}/tasks/",
                files={"file": (path.name, file, "application/x-ndjson")},
                headers=headers,
                timeout=600,
            )
        accepted = time.perf_counter() - started
        if response.status_code != 202:
            sys.exit(f"import answered {response.status_code}: {response.text[:500]}")
        job_url = response.json()["job"]["url"]
        percents = []
        while True:
            job = httpx.get(job_url, headers=headers, timeout=30).json()
            percents.append(job["progress"]["percent"])
            if job["status"] in ("succeeded", "failed"):
                break
            time.sleep(0.25)
        finished = time.perf_counter() - started
    if job["status"] != "succeeded":
        sys.exit(f"the import failed: {job['error']}")
    return {
        "rows": job["created"],
        "file_mb": round(path.stat().st_size / 1e6, 1),
        "upload_answered_202_s": round(accepted, 2),
        "total_s": round(finished, 2),
        "progress_seen": sorted(set(percents)),
        "memory": memory.report(),
    }


def bench_export(url: str, token: str, pool_id: int, kind: str, roots: dict[str, int]) -> dict[str, object]:
    import httpx

    with MemorySampler(roots) as memory:
        started = time.perf_counter()
        first_byte = None
        size = lines = 0
        with httpx.stream(
            "GET",
            f"{url}/api/v1/pools/{pool_id}/{kind}/?format=csv",
            headers={"Authorization": f"Token {token}"},
            timeout=600,
        ) as response:
            if response.status_code != 200:
                sys.exit(f"export answered {response.status_code}")
            for chunk in response.iter_raw():
                if first_byte is None:
                    first_byte = time.perf_counter() - started
                size += len(chunk)
                lines += chunk.count(b"\n")
        total = time.perf_counter() - started
    return {
        "rows": lines - 1,
        "mb": round(size / 1e6, 1),
        "first_byte_s": round(first_byte or 0, 3),
        "total_s": round(total, 2),
        "memory": memory.report(),
    }


def bench_dashboard(url: str, cookie: str, runs: int = 20) -> dict[str, object]:
    import httpx

    times = []
    with httpx.Client(cookies={"sessionid": cookie}, timeout=60) as client:
        first = client.get(f"{url}/pools/")
        if first.status_code != 200 or first.text.count('role="progressbar"') < DASHBOARD_POOLS:
            sys.exit(f"the dashboard answered {first.status_code} without the pools")
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(f"{url}/pools/")
            times.append(time.perf_counter() - started)
            assert response.status_code == 200
    times.sort()
    return {
        "pools": DASHBOARD_POOLS,
        "runs": runs,
        "median_ms": round(statistics.median(times) * 1000, 1),
        "max_ms": round(times[-1] * 1000, 1),
        "min_ms": round(times[0] * 1000, 1),
    }


def main() -> None:
    # `kill` ends the benchmark through its finally blocks, which stop the servers it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    VAR.mkdir(parents=True, exist_ok=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    print(f"bench-io: {ROWS:,} rows, {DASHBOARD_POOLS} dashboard pools, {os.cpu_count()} CPUs", flush=True)
    recreate_database()
    setup_django()
    import httpx

    redis_port = free_port()
    redis_cmd = ["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"]
    web_port = free_port()
    env = server_env(f"redis://127.0.0.1:{redis_port}/0")
    _, token = create_requester("bench-requester")
    dash_id, _ = create_requester("bench-dashboard")
    create_workers(300)
    path = VAR / f"tasks-{ROWS}.jsonl"
    t = time.perf_counter()
    write_jsonl(path, ROWS)
    print(
        f"wrote {path.name} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.0f} s",
        flush=True,
    )
    with (
        process_group(redis_cmd, env=env, log_name="redis.log"),
        process_group(
            ["make", "-s", "serve", f"PORT={web_port}", "WEB_WORKERS=2", "WEB_THREADS=8"],
            env=env,
            log_name="serve.log",
        ) as web,
        process_group(
            [str(PYTHON), "manage.py", "rundramatiq", "--processes", "1", "--threads", "2"],
            env=env,
            log_name="worker.log",
        ) as worker,
    ):
        url = f"http://127.0.0.1:{web_port}"
        wait_http(url, token, web)
        time.sleep(3)  # the worker process imports Django and connects to Redis
        roots = {"web": web.pid, "worker": worker.pid}
        pool = httpx.post(
            f"{url}/api/v1/pools/",
            json={"name": "Bench import", "labels": ["OK", "Prohibited"], "reward": "0.05", "overlap": 3},
            headers={"Authorization": f"Token {token}"},
        ).json()
        results: dict[str, object] = {
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load": os.getloadavg()},
        }
        print("import…", flush=True)
        results["import"] = bench_import(url, token, pool["id"], path, roots)
        print(json.dumps(results["import"]), flush=True)
        t = time.perf_counter()
        answers = add_answers(pool["id"], per_task=3, workers=300)
        print(f"set-up: {answers:,} answers in {time.perf_counter() - t:.0f} s", flush=True)
        # The scheduled aggregation (quality) stores each task's result; the export reads those rows.
        from quality.services import pool_aggregate
        from tasks.models import Pool

        run = pool_aggregate(pool=Pool.objects.get(pk=pool["id"]))
        results["aggregation_setup_s"] = round(run.duration_ms / 1000, 1)
        print(f"set-up: aggregation stored in {run.duration_ms / 1000:.0f} s", flush=True)
        print("export…", flush=True)
        results["export_results_csv"] = bench_export(url, token, pool["id"], "results", roots)
        print(json.dumps(results["export_results_csv"]), flush=True)
        results["export_answers_csv"] = bench_export(url, token, pool["id"], "answers", roots)
        print(json.dumps(results["export_answers_csv"]), flush=True)
        print("dashboard set-up…", flush=True)
        dashboard_data(dash_id, DASHBOARD_POOLS)
        results["dashboard"] = bench_dashboard(url, session_cookie(dash_id))
        print(json.dumps(results["dashboard"]), flush=True)
    (VAR / "io.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


def dashboard_only() -> None:
    """`python bench/io.py --dashboard-only`: measure the dashboard again on the last run's database."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logging.getLogger("httpx").setLevel(logging.WARNING)
    setup_django()
    from rest_framework.authtoken.models import Token

    from accounts.models import User

    dash = User.objects.get(username="bench-dashboard")
    token = Token.objects.get(user__username="bench-requester").key
    web_port = free_port()
    env = server_env("")
    with process_group(
        ["make", "-s", "serve", f"PORT={web_port}", "WEB_WORKERS=2", "WEB_THREADS=8"],
        env=env,
        log_name="serve.log",
    ) as web:
        url = f"http://127.0.0.1:{web_port}"
        wait_http(url, token, web)
        result = bench_dashboard(url, session_cookie(dash.pk), runs=40)
    result["load"] = os.getloadavg()
    print(json.dumps(result))


if __name__ == "__main__":
    dashboard_only() if "--dashboard-only" in sys.argv else main()
