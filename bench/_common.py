"""Shared helpers for the benchmarks: a fresh PostgreSQL database, accounts in bulk, and `make serve` on it.

The benchmarks drive the real server over HTTP, so they see what a client would: routing, authentication,
the ORM, transactions and commits. Set-up goes straight to SQL (generate_series), because creating a million
rows through the ORM would take longer than the measurement itself.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
# The PostgreSQL server the benchmarks use; each benchmark gets its own database on it (see bench_database_url).
BENCH_SERVER_URL = os.environ.get("BENCH_SERVER_URL", "postgres://postgres@127.0.0.1:5432/")
# The server gets its own VAR_DIR so its collected static files and logs stay out of everyone else's way.
BENCH_VAR = ROOT / "var" / "bench"


def bench_database_url(benchmark: str) -> str:
    """`fairlabel_bench_<benchmark>` on the bench server: benchmarks run at the same time never share one."""
    parts = urlsplit(BENCH_SERVER_URL)
    return urlunsplit(parts._replace(path=f"/fairlabel_bench_{benchmark}"))


def _admin_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres"))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def recreate_database(url: str) -> None:
    """Drop and create the bench database: every run starts from the same empty state."""
    import psycopg

    name = database_name(url)
    if not name.startswith("fairlabel_bench_"):
        # A guard against pointing BENCH_SERVER_URL at a database someone cares about.
        sys.exit(f"refusing to recreate {name!r}: the bench database's name must start with fairlabel_bench_")
    with psycopg.connect(_admin_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(url: str) -> None:
    """Configure Django in this process against the bench database (production settings, as the server)."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "bench-only-" + os.urandom(16).hex())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fairlabel.settings")
    os.environ["VAR_DIR"] = str(BENCH_VAR)
    if str(ROOT) not in sys.path:  # the apps are top-level folders of the repository, not installed packages
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    # The project's logging sends INFO to the console; httpx logs every request at INFO, which would cost
    # the load generator CPU and flood the output.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def create_users(*, prefix: str, count: int, role: str) -> list[tuple[int, str]]:
    """`count` users with API tokens in two statements; returns (user id, token key) in id order.

    Passwords are unusable ('!'): the benchmarks authenticate with tokens only, and hashing thousands of
    passwords would dominate the set-up time.
    """
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            WITH users AS (
                INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email,
                                           is_staff, is_active, date_joined, role, public_id)
                SELECT '!', false, %(prefix)s || i, '', '', '', false, true, now(), %(role)s,
                       gen_random_uuid()
                FROM generate_series(1, %(count)s) AS i
                RETURNING id
            )
            INSERT INTO authtoken_token (key, created, user_id)
            SELECT replace(gen_random_uuid()::text, '-', '') || substr(md5(random()::text), 1, 8), now(), id
            FROM users
            RETURNING user_id, key
            """,
            {"prefix": prefix, "count": count, "role": role},
        )
        return sorted(cursor.fetchall())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def cpu_seconds(self) -> float:
        """User + system CPU of gunicorn and its workers so far (from /proc), for the report."""
        return _tree_cpu_seconds(self.process.pid)

    def log_offset(self) -> int:
        return self.log_path.stat().st_size

    def access_log(self, start: int, end: int) -> list[tuple[str, str, int, float]]:
        """(method, path, status, seconds in the app) of the requests logged between two offsets.

        gunicorn times a request from when a worker thread starts reading it to the end of the response, so
        this excludes time spent queued before a thread was free (the client-side figures include it); granian
        from when it has read the request to the end of the response.
        """
        with self.log_path.open("rb") as log:
            log.seek(start)
            chunk = log.read(end - start).decode(errors="replace")
        found = []
        for line in chunk.splitlines():
            parts = line.split()
            if len(parts) != 4 or not parts[2].isdigit():
                continue
            if parts[3].isdigit():  # gunicorn: microseconds
                found.append((parts[0], parts[1], int(parts[2]), int(parts[3]) / 1e6))
            elif parts[3].endswith("ms"):  # granian: milliseconds
                found.append((parts[0], parts[1], int(parts[2]), float(parts[3][:-2]) / 1e3))
        return found


def _tree_cpu_seconds(root_pid: int) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        pid, ppid = int(entry), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        stats[pid] = fields
    stack = [root_pid]
    while stack:
        pid = stack.pop()
        if pid in stats:
            # utime and stime are fields 14 and 15 of /proc/<pid>/stat (11 and 12 after the command name).
            total += (int(stats[pid][11]) + int(stats[pid][12])) / ticks
        stack.extend(children.get(pid, []))
    return total


def postgres_cpu_by_pid(*, database: str) -> dict[int, float]:
    """CPU seconds of PostgreSQL's shared processes and of the processes working on `database`, by pid.

    Backends and autovacuum workers of other databases (another engineer's test run on the same server) are
    left out: they are reported as other load, not as the cost of what is measured here.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
            title = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if not raw[raw.index("(") + 1 : raw.rindex(")")].startswith("postgres"):
            continue
        # "postgres: 15/main: <user> <database> <host>(<port>) <state>", "...: autovacuum worker <database>",
        # or a shared process ("...: walwriter").
        rest = title.split(":", 2)[-1]
        per_database = "(" in rest or "[local]" in rest or "autovacuum worker" in rest
        if per_database and f" {database}" not in rest:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        found[int(entry)] = (int(fields[11]) + int(fields[12])) / ticks
    return found


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine since boot (every process, everyone's)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    busy = sum(int(v) for i, v in enumerate(fields) if i not in (3, 4))  # all but idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


def wait_until_quiet(*, busy_below: float = 0.25, sample: float = 3.0, give_up_after: float = 600) -> float:
    """Wait until the machine is idle enough to measure (other engineers share it); returns the busy cores seen.

    Gives up after `give_up_after` seconds and says so: figures taken under someone else's load are printed
    with that load next to them rather than silently.
    """
    deadline = time.monotonic() + give_up_after
    told = False
    while True:
        before = machine_cpu_seconds()
        time.sleep(sample)
        busy = (machine_cpu_seconds() - before) / sample
        if busy < busy_below:
            return busy
        if time.monotonic() > deadline:
            print(f"  (the machine stayed busy, {busy:.2f} cores in use by others; measuring anyway)")
            return busy
        if not told:
            print(f"  waiting for the machine to be quiet ({busy:.2f} cores busy)...", flush=True)
            told = True


@contextlib.contextmanager
def serve(
    *, url: str, workers: int = 2, threads: int = 8, ready_token: str, web_server: str = "granian"
) -> Iterator[Server]:
    """Run `make serve` (collectstatic, migrate, then granian, or the gunicorn gthread server it was measured
    against) on a free port against the bench database."""
    port = free_port()
    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    log_path = BENCH_VAR / f"serve-{port}.log"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-" + os.urandom(16).hex()),
        "VAR_DIR": str(BENCH_VAR),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Plain HTTP on the loopback: no redirect to https, as behind a TLS-terminating proxy.
        "SECURE_SSL_REDIRECT": "0",
        "DEBUG": "",
        # Rate-limit counters in Redis, as in production (the default, each process's memory, costs nothing).
        "CACHE_URL": os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/12"),
        # Access log lines the benchmarks can read back: method, path, status, time in the app (microseconds).
        "GUNICORN_CMD_ARGS": "--access-logformat '%(m)s %(U)s %(s)s %(D)s'",
        "GRANIAN_LOG_ACCESS_FMT": "%(method)s %(path)s %(status)d %(dt_ms).3fms",
    }
    command = [
        "make",
        "-s",
        "serve",
        f"PORT={port}",
        f"WEB_WORKERS={workers}",
        f"WEB_THREADS={threads}",
        f"WEB_SERVER={web_server}",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        _wait_ready(server, token=ready_token)
        yield server
    finally:
        # make and gunicorn share the session started above: stop exactly that group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_ready(server: Server, *, token: str, timeout: float = 180) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            sys.exit(f"`make serve` exited ({server.process.returncode}); see {server.log_path}")
        with contextlib.suppress(httpx.HTTPError):
            response = httpx.get(
                f"{server.url}/api/v1/ping/", headers={"Authorization": f"Token {token}"}, timeout=2
            )
            if response.status_code == 200:
                return
            sys.exit(f"the server answered {response.status_code} to a ping; see {server.log_path}")
        time.sleep(0.3)
    sys.exit(f"the server did not come up within {timeout:.0f} s; see {server.log_path}")


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (no interpolation: a value that was measured)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(fraction * len(sorted_values))))
    return sorted_values[rank - 1]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
