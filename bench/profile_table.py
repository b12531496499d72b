"""Where the web server's CPU goes per request: a table from py-spy's raw samples.

    .venv/bin/py-spy record --pid GUNICORN_MASTER --subprocesses --rate 100 --duration 40 --format raw -o raw.txt
    .venv/bin/python bench/profile_table.py raw.txt

Each sample is one thread's stack at one moment (with --gil: the thread holding the GIL). It is charged to the
frame, from the innermost outwards, whose file belongs to a layer below: so time in psycopg under the ORM
under a service is SQL, and time in a middleware's own code (not in the view it wraps) is middleware. Frames
of the standard library belong to whatever called them (json under DRF's renderer is rendering).
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

# Who a sample's time is spent for ("owner"), innermost first: (owner, path fragments). Time in the ORM or in
# psycopg is charged to the code that called it (the token lookup's query is authentication), and counted
# again in the "ORM" and "SQL" columns.
OWNERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("DRF authentication (the token lookup)", ("rest_framework/authentication", "rest_framework/authtoken")),
    ("DRF throttling (cache round trips)", ("rest_framework/throttling", "django/core/cache", "redis/")),
    ("DRF negotiation", ("rest_framework/negotiation",)),
    ("DRF parsing", ("rest_framework/parsers",)),
    ("DRF rendering", ("rest_framework/renderers", "rest_framework/utils/encoders")),
    (
        "the service and views (workflows, tasks, quality, payouts, fairness, worker, accounts)",
        ("workflows/", "tasks/", "quality/", "payouts/", "fairness/", "worker/", "accounts/"),
    ),
    ("DRF request, response, permissions", ("rest_framework/",)),
    (
        "middleware",
        (
            "django/middleware/",
            "middleware.py",
            "uploads.py",  # platform/uploads.py: the request size limit
            "django/contrib/sessions",
            "django/contrib/auth",
            "axes/",
            "csp/",
            "django_htmx/",
            "whitenoise/",
        ),
    ),
    ("Django handler, URL resolving, connection checks", ("django/",)),
    ("gunicorn: HTTP parsing", ("gunicorn/http/",)),
    ("gunicorn: worker, sockets, threads", ("gunicorn/",)),
    ("dramatiq, broker", ("dramatiq/", "pika/")),
)
SQL = ("psycopg/", "psycopg_binary", "psycopg_pool")
ORM = ("django/db/",)
FRAME = re.compile(r"\(([^():]+):\d+\)$")


def _belongs(path: str, fragment: str) -> bool:
    # py-spy prints paths relative to the sys.path entry they came from ("workflows/assignments.py",
    # "django/db/models/query.py"), or whole: a fragment matches at the start or after a slash.
    return path.startswith(fragment) or f"/{fragment}" in path


def _paths(stack: str) -> list[str]:
    return [m.group(1) for frame in stack.split(";") if (m := FRAME.search(frame))]


# Owners that sit around the request's code, innermost frame first; the others are looked for in the whole
# stack, in OWNERS order, since they run inside these (the token lookup runs under DRF and middleware).
_WRAPPERS = {
    "DRF request, response, permissions",
    "middleware",
    "Django handler, URL resolving, connection checks",
    "gunicorn: HTTP parsing",
    "gunicorn: worker, sockets, threads",
}


def owner_of(stack: str) -> str:
    paths = _paths(stack)
    for owner, fragments in OWNERS:
        if owner not in _WRAPPERS and any(_belongs(p, f) for p in paths for f in fragments):
            return owner
    for path in reversed(paths):
        if any(_belongs(path, f) for f in (*SQL, *ORM)):
            continue  # a query made by the wrapper code itself: charged to it, below
        for owner, fragments in OWNERS:
            if owner in _WRAPPERS and any(_belongs(path, fragment) for fragment in fragments):
                return owner
    return "other (interpreter, standard library at the top of a thread)"


def kind_of(stack: str) -> str:
    """Where the innermost frame is: SQL (psycopg), the ORM, or Python elsewhere."""
    for path in reversed(_paths(stack)):
        if any(_belongs(path, f) for f in SQL):
            return "sql"
        if any(_belongs(path, f) for f in ORM):
            return "orm"
        if "/" in path and not path.startswith(("threading", "concurrent", "json", "socket", "selectors")):
            return "python"
    return "python"


def main() -> None:
    owners: Counter[str] = Counter()
    kinds: Counter[tuple[str, str]] = Counter()
    for line in Path(sys.argv[1]).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            owner = owner_of(stack)
            owners[owner] += int(count)
            kinds[(owner, kind_of(stack))] += int(count)
    total = sum(owners.values())
    print(f"{total:,} samples\n")
    print("| spent for | samples | share | of which in the ORM | of which in psycopg |")
    print("|---|---|---|---|---|")
    for owner, n in owners.most_common():
        orm, sql = kinds[(owner, "orm")], kinds[(owner, "sql")]
        print(
            f"| {owner} | {n:,} | {n / total * 100:.1f}% | {orm / total * 100:.1f}% | {sql / total * 100:.1f}% |"
        )


if __name__ == "__main__":
    main()
