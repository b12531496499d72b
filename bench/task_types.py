"""Benchmark of the task types: the claim + submit cycle per type, and a million answers of each type from the
database to stored results.

    make bench-task-types                                   # both parts, every registered type
    .venv/bin/python bench/task_types.py cycles             # claim + submit per type, in this process
    .venv/bin/python bench/task_types.py aggregate --types text,pairwise

cycles: a fresh database (fairlabel_bench_types_<--database>, default "cycles") gets 500 workers with API
tokens and one open pool per type (20,000 regular tasks, overlap 3, golden rate 0.1, 200 golden items), by
generate_series. Then `assignment_next` + `assignment_submit` are called directly (no HTTP), the pools
alternating in chunks of 50 so that whatever else runs on the machine falls on every type: first a warm-up,
then the tables that grew are analyzed, then the measured cycles. Per type: wall p50 / p95 of each call, and
the CPU of this process and of its PostgreSQL backend per cycle (from /proc). Workers answer golden items
correctly and regular ones at random, so nobody is restricted part-way.

The same command runs against an older checkout of the code, for a before/after comparison of one type:
put that checkout first on the path (PYTHONPATH=<old-packages>:<old-checkout>, where <old-packages>/fairlabel
is a link to <old-checkout>/platform) and give each side its own --database; `--reuse` keeps a database that
already holds the pools (set it up once with `--set-up-only`), so alternating runs of the two sides measure
the cycles, not the set-up. Code from before task types takes `label=` at submit and knows single_choice only.

aggregate: per type, a fresh database (fairlabel_bench_types_agg_<type>) holding one pool with 1,000,000
answers (200,000 tasks x 5 answers, 2,000 workers, no golden items), written with COPY and INSERT ... SELECT.
Tasks, workers and which answers are right come from bench/aggregation.py's synthetic million (seed 0), so every
type has the same layout and the same workers' accuracy (~ Beta(8, 2)); a right answer is the task's truth, a
wrong one the truth spoiled in the type's own way (another label; one label toggled; a word dropped or
misspelled; the other side; a box left out, added or moved off). Boxes: 1-5 true boxes per task (3 on average).
Then `quality.services.pool_aggregate` (what the pool's actor runs) in fresh processes, twice from empty results
and twice again, types taking turns: wall time, its phases as the run records them, peak RSS (VmHWM). Also the
type's `aggregate` maths alone on the same answers, in a fresh process, and with --profile a cProfile of one
database run per type. A type the registry does not list yet gets the maths-alone figure only.
"""

from __future__ import annotations

import argparse
import cProfile
import inspect
import io
import json
import os
import pstats
import random
import subprocess
import sys
import time
from dataclasses import fields
from decimal import Decimal
from pathlib import Path
from typing import Any

import _common  # bench/ is on sys.path when this file is run as a script
import numpy as np

TYPES = ("single_choice", "multi_choice", "text", "pairwise", "boxes")
SEED = 0

# --------------------------------------------------------------------------------------------- set-up


def _setup_django(url: str) -> None:
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.pop("DRAMATIQ_BROKER_URL", None)  # the in-memory broker: nothing leaves this process
    # Whichever checkout is first on PYTHONPATH provides the apps; _common only adds this one if none is there.
    if os.environ.get("PYTHONPATH"):
        sys.path.append(str(_common.ROOT))
    _common.setup_django(url)


def _registered() -> set[str]:
    try:
        from quality.types import TYPES as REGISTRY
    except ImportError:  # code from before task types
        return {"single_choice"}
    return set(REGISTRY)


def _code_tree() -> str:
    """Where the apps and the settings were imported from (both must be the same checkout)."""
    import fairlabel.settings
    import tasks

    apps = Path(tasks.__file__).resolve().parent.parent
    settings = Path(fairlabel.settings.__file__).resolve().parent.parent
    return str(apps) if apps == settings else f"apps {apps}, settings {settings}"


# What each type's pools, tasks and answers look like. `right` says whether the answer is the golden one.
CYCLE_LABELS = {
    "single_choice": ["OK", "Bad"],
    "multi_choice": ["Adult", "Counterfeit", "Weapons", "Spam"],
    "boxes": ["Car", "Person", "Bicycle"],
}
CYCLE_GOLDEN = {
    "single_choice": "OK",
    "multi_choice": ["Counterfeit"],
    "text": "a used bicycle in good condition",
    "pairwise": "left",
    "boxes": [{"label": "Car", "x": 0.1, "y": 0.2, "w": 0.3, "h": 0.25}],
}
CYCLE_DATA_SQL = {
    "single_choice": "jsonb_build_object('text', 'listing ' || i || ': a used bicycle, good condition')",
    "multi_choice": "jsonb_build_object('text', 'listing ' || i || ': a used bicycle, good condition')",
    "text": "jsonb_build_object('text', 'scan ' || i || ': A USED BICYCLE IN GOOD CONDITION')",
    "pairwise": "jsonb_build_object('left', 'result ' || i, 'right', 'result ' || (i + 1))",
    "boxes": "jsonb_build_object('image', 'https://images.example.org/' || i || '.jpg')",
}


def _cycle_answer(kind: str, rng: random.Random) -> Any:
    if kind == "single_choice":
        return rng.choice(CYCLE_LABELS[kind])
    if kind == "multi_choice":
        return [label for label in CYCLE_LABELS[kind] if rng.random() < 0.3]
    if kind == "text":
        return rng.choice(["a used bicycle in good condition", "a used bicycle, good condition"])
    if kind == "pairwise":
        return rng.choice(["left", "right"])
    return [
        {
            "label": rng.choice(CYCLE_LABELS[kind]),
            "x": round(rng.uniform(0, 0.6), 4),
            "y": round(rng.uniform(0, 0.6), 4),
            "w": round(rng.uniform(0.05, 0.4), 4),
            "h": round(rng.uniform(0.05, 0.4), 4),
        }
        for _ in range(3)
    ]


def _pool_name(kind: str) -> str:
    return f"bench types: {kind}"


def _create_cycle_pool(*, kind: str, requester_id: int, tasks: int, golden: int, overlap: int) -> int:
    from django.db import connection, transaction

    from accounts.models import User
    from tasks.services import PoolSettings, pool_create

    typed: dict[str, Any] = {}
    golden_text = str(CYCLE_GOLDEN[kind])
    if "task_type" in {f.name for f in fields(PoolSettings)}:
        from quality.types import TYPES as REGISTRY
        from quality.types import pool_options

        task_type = REGISTRY[kind]
        typed = {"task_type": kind, "options": pool_options(task_type=task_type, raw={})}
        labels = CYCLE_LABELS.get(kind, [])
        golden_text = task_type.golden_parse(CYCLE_GOLDEN[kind], labels=labels, options=typed["options"])
    pool = pool_create(
        requester=User.objects.get(pk=requester_id),
        settings=PoolSettings(
            name=_pool_name(kind),
            instructions="Bench.",
            labels=CYCLE_LABELS.get(kind, []),
            reward=Decimal("0.01"),
            overlap=overlap,
            golden_rate=0.1,
            assignment_ttl=600,
            **typed,
        ),
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO tasks_task (pool_id, data, golden_label, external_id, max_answers, answers_count,
                                    remaining)
            SELECT %(pool)s, {CYCLE_DATA_SQL[kind]}, NULL, 'item-' || i, %(overlap)s, 0, %(overlap)s
            FROM generate_series(1, %(tasks)s) AS i
            """,
            {"pool": pool.pk, "tasks": tasks, "overlap": overlap},
        )
        cursor.execute(
            f"""
            INSERT INTO tasks_task (pool_id, data, golden_label, external_id, max_answers, answers_count,
                                    remaining)
            SELECT %(pool)s, {CYCLE_DATA_SQL[kind]}, %(golden)s, 'gold-' || i, %(overlap)s, 0, 0
            FROM generate_series(%(tasks)s + 1, %(tasks)s + %(n_golden)s) AS i
            """,
            {"pool": pool.pk, "tasks": tasks, "overlap": overlap, "golden": golden_text, "n_golden": golden},
        )
    return pool.pk


def _cycle_pools(kinds: list[str]) -> dict[str, int]:
    from tasks.models import Pool

    found = dict(Pool.objects.filter(name__in=[_pool_name(k) for k in kinds]).values_list("name", "pk"))
    return {kind: found[_pool_name(kind)] for kind in kinds if _pool_name(kind) in found}


def _cycle_set_up(*, url: str, kinds: list[str], tasks: int, workers: int) -> dict[str, int]:
    started = time.monotonic()
    _common.recreate_database(url)
    _setup_django(url)
    _common.migrate()
    from django.db import connection

    from accounts.models import User
    from payouts.services import deposit_create
    from tasks.models import Pool
    from workflows.pools import pool_open

    ((requester_id, _),) = _common.create_users(prefix="bench-requester-", count=1, role="requester")
    _common.create_users(prefix="bench-worker-", count=workers, role="worker")
    deposit_create(user=User.objects.get(pk=requester_id), amount=Decimal(10_000_000))
    pools = {
        kind: _create_cycle_pool(kind=kind, requester_id=requester_id, tasks=tasks, golden=200, overlap=3)
        for kind in kinds
    }
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    for pool_id in pools.values():
        pool_open(pool=Pool.objects.get(pk=pool_id))
    print(
        f"set-up: {workers} workers, {len(pools)} pools of {tasks:,} tasks in {time.monotonic() - started:.1f} s"
    )
    return pools


# --------------------------------------------------------------------------------------------- cycles


def _backend_cpu() -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    raw = Path(f"/proc/{pid}/stat").read_text()
    stat = raw[raw.rindex(")") + 2 :].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


def _cycles(*, pools: dict[str, int], cycles: int, chunk: int, seed: int) -> dict[str, dict[str, Any]]:
    """next + submit per type, pools alternating in chunks; wall per call, and CPU per cycle of this process
    and of its PostgreSQL backend (one connection: CONN_MAX_AGE keeps it)."""
    from accounts.models import User
    from tasks.models import Task
    from workflows.assignments import assignment_next, assignment_submit

    submit_takes = "answer" if "answer" in inspect.signature(assignment_submit).parameters else "label"
    golden = {
        kind: dict(
            Task.objects.filter(pool_id=pool_id, golden_label__isnull=False).values_list("pk", "golden_label")
        )
        for kind, pool_id in pools.items()
    }
    workers = list(User.objects.filter(username__startswith="bench-worker-").order_by("pk"))
    rng = random.Random(seed)
    found: dict[str, dict[str, Any]] = {
        kind: {"next": [], "submit": [], "cpu": 0.0, "postgres": 0.0, "cycles": 0, "empty": 0}
        for kind in pools
    }
    turn = rng.randrange(len(workers))
    for _ in range(max(1, cycles // chunk)):
        for kind, pool_id in pools.items():
            times = found[kind]
            cpu, postgres = time.process_time(), _backend_cpu()
            for _ in range(chunk):
                worker = workers[turn % len(workers)]
                turn += 1
                wall = time.perf_counter()
                assignment = assignment_next(worker=worker, pool_id=pool_id)
                times["next"].append(time.perf_counter() - wall)
                if assignment is None:
                    times["empty"] += 1
                    continue
                if assignment.is_golden:
                    text = golden[kind][assignment.task_id]
                    answer: Any = text if kind in ("single_choice", "text", "pairwise") else json.loads(text)
                else:
                    answer = _cycle_answer(kind, rng)
                wall = time.perf_counter()
                assignment_submit(worker=worker, assignment_id=assignment.pk, **{submit_takes: answer})
                times["submit"].append(time.perf_counter() - wall)
                times["cycles"] += 1
            times["cpu"] += time.process_time() - cpu
            times["postgres"] += _backend_cpu() - postgres
    return found


def _analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "ANALYZE tasks_assignment, tasks_answer, tasks_workerpoolstats, payouts_account, "
            "payouts_ledgertransaction, payouts_entry"
        )


def _ms(values: list[float], fraction: float) -> float:
    return _common.percentile(sorted(values), fraction) * 1000


def bench_cycles(options: argparse.Namespace) -> dict[str, Any]:
    url = _common.bench_database_url(f"types_{options.database}")
    _setup_django(url)
    registered = _registered()
    kinds = [k for k in options.types if k in registered]
    skipped = [k for k in options.types if k not in registered]
    pools = _cycle_pools(kinds) if options.reuse else {}
    if len(pools) < len(kinds):
        pools = _cycle_set_up(url=url, kinds=kinds, tasks=options.tasks, workers=options.workers)
    if options.set_up_only:
        return {"pools": pools}
    load = _common.load_average()
    _cycles(pools=pools, cycles=options.warmup, chunk=options.chunk, seed=options.seed + 1)
    _analyze()
    busy_before, started, own = _common.machine_cpu_seconds(), time.monotonic(), time.process_time()
    found = _cycles(pools=pools, cycles=options.cycles, chunk=options.chunk, seed=options.seed)
    wall = time.monotonic() - started
    report: dict[str, Any] = {
        "code": _code_tree(),
        "database": _common.database_name(url),
        "load_average": load,
        "machine_busy_cores": (_common.machine_cpu_seconds() - busy_before) / wall,
        "own_cores": (time.process_time() - own) / wall,
        "skipped": skipped,
        "types": {},
    }
    for kind, times in found.items():
        n = max(1, times["cycles"])
        report["types"][kind] = {
            "cycles": times["cycles"],
            "empty_next": times["empty"],
            "next_p50_ms": _ms(times["next"], 0.5),
            "next_p95_ms": _ms(times["next"], 0.95),
            "submit_p50_ms": _ms(times["submit"], 0.5),
            "submit_p95_ms": _ms(times["submit"], 0.95),
            "cycle_wall_ms": (sum(times["next"]) + sum(times["submit"])) / n * 1000,
            "cycle_cpu_ms": times["cpu"] / n * 1000,
            "cycle_postgres_ms": times["postgres"] / n * 1000,
        }
    return report


def print_cycles(report: dict[str, Any]) -> None:
    print(
        f"\ncode {report['code']}, database {report['database']}, load average {report['load_average']}, "
        f"machine busy {report['machine_busy_cores']:.2f} cores (this process {report['own_cores']:.2f})"
    )
    print(
        "| type | cycles | next p50 / p95 | submit p50 / p95 | cycle wall (mean) | cycle CPU: Python + PostgreSQL |"
    )
    print("|---|---|---|---|---|---|")
    for kind, row in report["types"].items():
        print(
            f"| {kind} | {row['cycles']} | {row['next_p50_ms']:.2f} / {row['next_p95_ms']:.2f} ms "
            f"| {row['submit_p50_ms']:.2f} / {row['submit_p95_ms']:.2f} ms | {row['cycle_wall_ms']:.2f} ms "
            f"| {row['cycle_cpu_ms']:.2f} + {row['cycle_postgres_ms']:.2f} ms |"
        )
    if report["skipped"]:
        print(f"not registered in this code, not measured: {', '.join(report['skipped'])}")


# ------------------------------------------------------------------------------------ synthetic answers

N_TASKS, OVERLAP, N_WORKERS = 200_000, 5, 2_000
MULTI_LABELS = ["Adult", "Counterfeit", "Weapons", "Spam"]
BOX_LABELS = ["Car", "Person", "Bicycle"]
N_ITEMS = 20_000  # pairwise: items compared, each in about 20 tasks
WORDS = [f"w{i}" for i in range(2_000)]


def _layout() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(task, worker, right) per answer from bench/aggregation.py's synthetic million: the same tasks, workers
    and share of right answers for every type."""
    from aggregation import synthetic

    task, worker, label, truth = synthetic(seed=SEED, n_tasks=N_TASKS, overlap=OVERLAP, n_workers=N_WORKERS)
    return task, worker, label == truth[task]


def synthetic_answers(kind: str) -> dict[str, Any]:
    """The million answers of one type as canonical text, the task data, and the pool's labels and options."""
    task, worker, right = _layout()
    rng = np.random.default_rng(SEED + 1)
    n = task.size
    labels: list[str] = []
    data: list[dict[str, Any]] = [{} for _ in range(N_TASKS)]
    if kind == "single_choice":
        from aggregation import synthetic

        labels = ["0", "1", "2", "3"]
        texts = [str(v) for v in synthetic(seed=SEED)[2].tolist()]
    elif kind == "multi_choice":
        labels = MULTI_LABELS
        truth = rng.random((N_TASKS, len(labels))) < 0.3
        chosen = truth[task]
        toggled = rng.integers(0, len(labels), n)
        wrong = np.flatnonzero(~right)
        chosen[wrong, toggled[wrong]] ^= True
        texts = [
            json.dumps([labels[j] for j in np.flatnonzero(row)], separators=(",", ":")) for row in chosen
        ]
    elif kind == "text":
        lengths = rng.integers(3, 9, N_TASKS)
        sentences = [[WORDS[w] for w in rng.integers(0, len(WORDS), k)] for k in lengths.tolist()]
        spoil = rng.random(n)
        texts = []
        for t, ok, s in zip(task.tolist(), right.tolist(), spoil.tolist(), strict=True):
            words = sentences[t]
            if not ok:
                at = int(s * len(words))
                words = (
                    words[:at] + words[at + 1 :]
                    if s < 0.5
                    else [*words[:at], words[at] + "x", *words[at + 1 :]]
                )
            texts.append(" ".join(words))
    elif kind == "pairwise":
        strength = rng.normal(0, 1, N_ITEMS)
        left = rng.integers(0, N_ITEMS, N_TASKS)
        right_item = (left + rng.integers(1, N_ITEMS, N_TASKS)) % N_ITEMS
        data = [
            {"left": f"item {a}", "right": f"item {b}"}
            for a, b in zip(left.tolist(), right_item.tolist(), strict=True)
        ]
        better_left = strength[left] >= strength[right_item]
        says_left = np.where(right, better_left[task], ~better_left[task])
        texts = ["left" if v else "right" for v in says_left.tolist()]
    elif kind == "boxes":
        labels = BOX_LABELS
        data = [{"image": f"https://images.example.org/{t}.jpg"} for t in range(N_TASKS)]
        truth_boxes = [_true_boxes(rng, int(k)) for k in rng.integers(1, 6, N_TASKS).tolist()]
        # Drawn in bulk: one generator call per answer would take minutes.
        jitter = rng.uniform(-0.03, 0.03, (n, 5, 4)).tolist()
        spoil = rng.integers(0, 3, n).tolist()
        which = rng.random(n).tolist()
        texts = [
            json.dumps(_drawn(truth_boxes[t], ok, jitter[i], spoil[i], which[i]), separators=(",", ":"))
            for i, (t, ok) in enumerate(zip(task.tolist(), right.tolist(), strict=True))
        ]
    else:
        raise SystemExit(f"unknown type {kind}")
    return {"task": task, "worker": worker, "text": texts, "data": data, "labels": labels}


def _true_boxes(rng: np.random.Generator, count: int) -> list[dict[str, Any]]:
    # Objects on a grid of cells, so the true boxes of one image do not overlap one another.
    cells = rng.choice(16, size=count, replace=False)
    boxes = []
    for cell in cells.tolist():
        w, h = rng.uniform(0.1, 0.2, 2)
        x = (cell % 4) * 0.25 + rng.uniform(0, 0.25 - w)
        y = (cell // 4) * 0.25 + rng.uniform(0, 0.25 - h)
        boxes.append({"label": BOX_LABELS[int(rng.integers(0, 3))], "x": x, "y": y, "w": w, "h": h})
    return boxes


def _drawn(
    truth: list[dict[str, Any]], right: bool, jitter: list[list[float]], spoil: int, which: float
) -> list[dict[str, Any]]:
    """A worker's boxes: the true ones with their corners off by up to 3% of the box; a wrong answer also
    misses one box (spoil 0), or adds one (1), or moves one off its object (2)."""
    boxes = []
    for box, (dx, dy, dw, dh) in zip(truth, jitter, strict=False):
        x = min(max(box["x"] + dx * box["w"], 0.0), 0.99)
        y = min(max(box["y"] + dy * box["h"], 0.0), 0.99)
        w, h = min(box["w"] * (1 + dw), 1.0 - x), min(box["h"] * (1 + dh), 1.0 - y)
        boxes.append(
            {"label": box["label"], "x": round(x, 6), "y": round(y, 6), "w": round(w, 6), "h": round(h, 6)}
        )
    if not right:
        at = int(which * len(boxes))
        if spoil == 0 and boxes:
            boxes.pop(at)
        elif spoil == 1 or not boxes:
            boxes.append({"label": BOX_LABELS[0], "x": 0.9, "y": 0.9, "w": 0.05, "h": 0.05})
        else:
            moved = boxes[at]
            moved["x"] = round(min(moved["x"] + moved["w"], 1.0 - moved["w"]), 6)
    return boxes


# ---------------------------------------------------------------------------- database to stored results


def _agg_url(kind: str) -> str:
    return _common.bench_database_url(f"types_agg_{kind}")


def _agg_pool_name(kind: str) -> str:
    return f"bench types: a million {kind} answers"


def agg_set_up(kind: str) -> dict[str, Any]:
    url = _agg_url(kind)
    started = time.perf_counter()
    _common.recreate_database(url)
    _setup_django(url)
    _common.migrate()
    from django.db import connection, transaction

    from accounts.models import Role, User
    from quality.types import TYPES as REGISTRY
    from quality.types import pool_options
    from tasks.models import Pool, PoolStatus

    made = synthetic_answers(kind)
    generated = time.perf_counter() - started
    requester = User.objects.create(username="bench-requester", role=Role.REQUESTER)
    pool = Pool.objects.create(
        requester=requester,
        name=_agg_pool_name(kind),
        task_type=kind,
        labels=made["labels"],
        options=pool_options(task_type=REGISTRY[kind], raw={}),
        reward="0.01",
        overlap=OVERLAP,
        golden_rate=0,
        status=PoolStatus.COMPLETED,
    )
    task, worker, texts = made["task"], made["worker"], made["text"]
    seconds = np.random.default_rng(SEED).integers(2_000, 30_000, task.size)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email,
                                       is_staff, is_active, date_joined, role, public_id)
            SELECT '!', false, 'bench-worker-' || i, '', '', '', false, true, now(), 'worker', gen_random_uuid()
            FROM generate_series(0, %s - 1) AS i
            """,
            [N_WORKERS],
        )
        cursor.execute("CREATE TEMP TABLE bench_tasks (task_no int4, data jsonb)")
        with cursor.cursor.copy("COPY bench_tasks FROM STDIN") as copy:
            for t, value in enumerate(made["data"]):
                copy.write_row((t, json.dumps({**value, "n": t})))
        cursor.execute(
            """
            INSERT INTO tasks_task (pool_id, data, golden_label, external_id, max_answers, answers_count, remaining)
            SELECT %s, data, NULL, 't' || task_no, %s, %s, 0 FROM bench_tasks
            """,
            [pool.pk, OVERLAP, OVERLAP],
        )
        cursor.execute("CREATE TEMP TABLE bench_in (task_no int4, worker_no int4, label text, seconds int4)")
        with cursor.cursor.copy("COPY bench_in FROM STDIN") as copy:
            for row in zip(task.tolist(), worker.tolist(), texts, seconds.tolist(), strict=True):
                copy.write_row(row)
        cursor.execute(
            """
            CREATE TEMP TABLE bench_ids AS
            SELECT i.label, i.seconds, t.id AS task_id, u.id AS worker_id
            FROM bench_in i
            JOIN tasks_task t ON t.pool_id = %s AND t.external_id = 't' || i.task_no
            JOIN accounts_user u ON u.username = 'bench-worker-' || i.worker_no
            """,
            [pool.pk],
        )
        cursor.execute(
            """
            INSERT INTO tasks_assignment (task_id, pool_id, worker_id, status, is_golden, created_at, expires_at)
            SELECT task_id, %s, worker_id, 'submitted', false, now(), now() FROM bench_ids
            """,
            [pool.pk],
        )
        cursor.execute(
            """
            INSERT INTO tasks_answer (assignment_id, task_id, pool_id, worker_id, label, submitted_at,
                                      duration_ms, is_golden, correct, flagged_fast, status, reward,
                                      reviewed_at, reject_reason)
            SELECT a.id, b.task_id, %s, b.worker_id, b.label, now(), b.seconds, false, NULL, false,
                   'accepted', 0.01, NULL, ''
            FROM bench_ids b JOIN tasks_assignment a ON a.task_id = b.task_id AND a.worker_id = b.worker_id
            """,
            [pool.pk],
        )
        cursor.execute(
            "SELECT count(*), avg(octet_length(label)) FROM tasks_answer WHERE pool_id = %s", [pool.pk]
        )
        answers, mean_bytes = cursor.fetchone()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    extra = {}
    if kind == "boxes":
        extra["boxes_per_answer"] = sum(text.count('"label"') for text in texts) / len(texts)
    return {
        "pool_id": pool.pk,
        "answers": int(answers),
        "mean_answer_bytes": float(mean_bytes),
        "generate_seconds": generated,
        "setup_seconds": time.perf_counter() - started,
        **extra,
    }


def _existing_agg_pool(kind: str) -> dict[str, Any] | None:
    import psycopg

    try:
        with psycopg.connect(_agg_url(kind)) as conn:
            row = conn.execute(
                "SELECT p.id, count(a.id) FROM tasks_pool p JOIN tasks_answer a ON a.pool_id = p.id "
                "WHERE p.name = %s GROUP BY p.id",
                [_agg_pool_name(kind)],
            ).fetchone()
    except psycopg.Error:
        return None
    return {"pool_id": row[0], "answers": row[1]} if row else None


def _clear_results(kind: str) -> None:
    import psycopg

    with psycopg.connect(_agg_url(kind), autocommit=True) as conn:
        conn.execute(
            "TRUNCATE quality_taskresult, quality_workerconfusion, quality_aggregationrun, "
            "quality_poolaggregationstate"
        )
        conn.execute("VACUUM ANALYZE quality_taskresult")


def _rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def agg_run(kind: str, pool_id: int, *, profile: bool) -> dict[str, Any]:
    """One aggregation of the pool, as its actor runs it, in this fresh process."""
    _setup_django(_agg_url(kind))
    from django.db import connection

    import quality.loading  # noqa: F401  (imported before the clock starts, as in a running worker)
    from quality.models import TaskResult
    from quality.services import pool_aggregate
    from tasks.models import Pool

    pool = Pool.objects.get(pk=pool_id)
    connection.ensure_connection()
    before = _rss_mb()
    profiler = cProfile.Profile() if profile else None
    start = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    run = pool_aggregate(pool=pool)
    if profiler is not None:
        profiler.disable()
    seconds = time.perf_counter() - start
    peak = _rss_mb("VmHWM")
    report = {
        "seconds": seconds,
        "load_ms": run.load_ms,
        "compute_ms": run.compute_ms,
        "save_ms": run.save_ms,
        "answers": run.answers,
        "tasks": run.tasks,
        "stored": TaskResult.objects.filter(pool=pool).count(),
        "rss_before_mb": before,
        "peak_rss_mb": peak,
    }
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
        report["profile"] = out.getvalue()
    return report


def maths_run(kind: str) -> dict[str, Any]:
    """The type's `aggregate` alone on the same million answers (decoded, coded 0..n-1), in a fresh process."""
    _setup_django(_common.bench_database_url("types_maths_unused"))  # settings only: no query is made
    from quality.types.base import TypeAnswers

    if kind in _registered():
        from quality.types import TYPES as REGISTRY

        task_type = REGISTRY[kind]
        aggregate, answer_value, options_clean = (
            task_type.aggregate,
            task_type.answer_value,
            task_type.options_clean,
        )
    else:  # measured from its folder before the registry lists it
        from importlib import import_module

        maths, shape = (
            import_module(f"quality.types.{kind}.maths"),
            import_module(f"quality.types.{kind}.shape"),
        )
        aggregate, answer_value, options_clean = maths.aggregate, shape.answer_value, shape.options_clean
    made = synthetic_answers(kind)
    before = _rss_mb()
    start = time.perf_counter()
    values = [answer_value(text) for text in made["text"]]
    decoded = time.perf_counter()
    answers = TypeAnswers(
        task=made["task"].astype(np.int64),
        worker=made["worker"].astype(np.int64),
        values=values,
        n_tasks=N_TASKS,
        n_workers=N_WORKERS,
        task_data=made["data"] if kind == "pairwise" else None,
    )
    result = aggregate(answers, labels=made["labels"], options=options_clean({}))
    finished = time.perf_counter()
    report: dict[str, Any] = {
        "decode_seconds": decoded - start,
        "aggregate_seconds": finished - decoded,
        "rss_before_mb": before,
        "peak_rss_mb": _rss_mb("VmHWM"),
        "mean_confidence": float(np.mean(result.confidence)),
    }
    if kind == "boxes":
        report["boxes_per_answer"] = sum(len(v) for v in values) / len(values)
    return report


def _child(*args: str) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    ).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


# (kind, clear the stored results first): the first run inserts every result; "again" finds them all stored.
DB_RUNS = (("first", True), ("again", False), ("first", True), ("again", False))


def bench_aggregate(options: argparse.Namespace) -> dict[str, Any]:
    _setup_django(_common.bench_database_url("types_maths_unused"))
    registered = _registered()
    report: dict[str, Any] = {"machine": _machine(), "types": {}}
    in_db = [k for k in options.types if k in registered]
    for kind in options.types:
        entry: dict[str, Any] = {"registered": kind in registered, "runs": [], "maths": []}
        report["types"][kind] = entry
        if kind in in_db:
            setup = _existing_agg_pool(kind) if options.reuse_database else None
            if setup is None:
                setup = _child("--agg-set-up", kind)
                print(
                    f"{kind}: set up {setup['answers']:,} answers in {setup['setup_seconds']:.0f} s",
                    flush=True,
                )
            entry["setup"] = setup
    # Types take turns within each round, so a busy spell on the machine falls on all of them.
    for round_no, (run_kind, clear) in enumerate(DB_RUNS[: options.rounds], start=1):
        for kind in in_db:
            entry = report["types"][kind]
            if clear:
                _clear_results(kind)
            busy, started = _common.machine_cpu_seconds(), time.monotonic()
            load = _common.load_average()
            row = _child("--agg-run", kind, str(entry["setup"]["pool_id"]))
            row.update(
                kind=run_kind,
                load_average=load,
                busy_during=(_common.machine_cpu_seconds() - busy) / (time.monotonic() - started),
            )
            entry["runs"].append(row)
            print(f"  round {round_no} {kind} ({run_kind}): {row['seconds']:.2f} s", flush=True)
    for _ in range(options.maths_repeat):
        for kind in options.types:
            row = _child("--maths-run", kind)
            row["load_average"] = _common.load_average()
            report["types"][kind]["maths"].append(row)
            print(f"  {kind} maths alone: {row['aggregate_seconds']:.2f} s", flush=True)
    if options.profile:
        for kind in in_db:
            _clear_results(kind)
            row = _child("--agg-run", kind, str(report["types"][kind]["setup"]["pool_id"]), "--profile")
            report["types"][kind]["profile"] = row["profile"]
            print(
                f"\n{kind}: cProfile of one run from empty results ({row['seconds']:.2f} s with the profiler)"
            )
            print(row["profile"])
    report["machine_after"] = _machine()
    return report


def _machine() -> dict[str, str]:
    free = subprocess.run(["free", "-m"], capture_output=True, text=True).stdout.strip()
    return {"nproc": str(os.cpu_count()), "free_m": free, "load_average": _common.load_average()}


def print_aggregate(report: dict[str, Any]) -> None:
    print(f"\nmachine: {report['machine']['nproc']} cores, load average {report['machine']['load_average']}")
    print(report["machine"]["free_m"])
    print(
        "\n| type | runs | wall s: median (min-max) | load+compute s (median) | save s (median) | peak RSS MB (max) "
        "| maths alone s: median (min-max) | maths peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for kind, entry in report["types"].items():
        runs, maths = entry["runs"], entry["maths"]
        if runs:
            wall = sorted(r["seconds"] for r in runs)
            load = float(np.median([(r["load_ms"] + r["compute_ms"]) / 1000 for r in runs]))
            save = float(np.median([r["save_ms"] / 1000 for r in runs]))
            peak = max(r["peak_rss_mb"] for r in runs)
            db = f"{len(runs)} | {np.median(wall):.2f} ({wall[0]:.2f}-{wall[-1]:.2f}) | {load:.2f} | {save:.2f} | {peak:.0f}"
        else:
            db = "0 | not registered: no database run | | |"
        if maths:
            seconds = sorted(r["aggregate_seconds"] for r in maths)
            m = f"{np.median(seconds):.2f} ({seconds[0]:.2f}-{seconds[-1]:.2f}) | {max(r['peak_rss_mb'] for r in maths):.0f}"
        else:
            m = " | "
        print(f"| {kind} | {db} | {m} |")
    print("\nevery database run:")
    for kind, entry in report["types"].items():
        for r in entry["runs"]:
            print(
                f"  {kind} {r['kind']}: {r['seconds']:.2f} s (load {r['load_ms'] / 1000:.2f}, compute "
                f"{r['compute_ms'] / 1000:.2f}, save {r['save_ms'] / 1000:.2f}), {r['stored']:,} results stored, "
                f"peak {r['peak_rss_mb']:.0f} MB, load average {r['load_average']}, machine busy {r['busy_during']:.2f}"
            )
        for key in ("boxes_per_answer",):
            if key in entry.get("setup", {}):
                print(f"  {kind}: {entry['setup'][key]:.2f} boxes per answer")
    print(f"\nload average at the end: {report['machine_after']['load_average']}")


# ------------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agg-set-up", metavar="TYPE", help=argparse.SUPPRESS)
    parser.add_argument("--agg-run", nargs=2, metavar=("TYPE", "POOL_ID"), help=argparse.SUPPRESS)
    parser.add_argument("--maths-run", metavar="TYPE", help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true", help="also a cProfile of one database run per type")
    parser.add_argument("part", nargs="?", choices=("cycles", "aggregate", "all"), default="all")
    parser.add_argument("--types", default=",".join(TYPES), help="comma-separated task types")
    parser.add_argument(
        "--database", default="cycles", help="cycles: the database is fairlabel_bench_types_<this>"
    )
    parser.add_argument("--reuse", action="store_true", help="cycles: keep a database that holds the pools")
    parser.add_argument("--set-up-only", action="store_true", help="cycles: set the database up and stop")
    parser.add_argument("--tasks", type=int, default=20_000, help="cycles: regular tasks per pool")
    parser.add_argument("--workers", type=int, default=500, help="cycles: workers taking turns")
    parser.add_argument("--cycles", type=int, default=1_000, help="cycles: measured cycles per type")
    parser.add_argument("--warmup", type=int, default=200, help="cycles: cycles per type before measuring")
    parser.add_argument("--chunk", type=int, default=50, help="cycles: cycles of one type before the next")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line at the end")
    parser.add_argument(
        "--reuse-database", action="store_true", help="aggregate: keep databases holding the pool"
    )
    parser.add_argument("--rounds", type=int, default=4, help="aggregate: database runs per type (at most 4)")
    parser.add_argument("--maths-repeat", type=int, default=2, help="aggregate: maths-alone runs per type")
    options = parser.parse_args()
    options.types = [t for t in options.types.split(",") if t]
    if options.agg_set_up:
        print(json.dumps(agg_set_up(options.agg_set_up)))
        return
    if options.agg_run:
        print(json.dumps(agg_run(options.agg_run[0], int(options.agg_run[1]), profile=options.profile)))
        return
    if options.maths_run:
        print(json.dumps(maths_run(options.maths_run)))
        return
    if options.part in ("cycles", "all"):
        report = bench_cycles(options)
        if options.json:
            print(json.dumps(report))
        elif "types" in report:
            print_cycles(report)
    if options.part in ("aggregate", "all"):
        aggregated = bench_aggregate(options)
        print_aggregate(aggregated)
        if options.json:
            print(json.dumps(aggregated))


if __name__ == "__main__":
    main()
