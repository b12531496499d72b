"""`fairlabel`: the client's requester flow from a shell. The server and token come from FAIRLABEL_URL and
FAIRLABEL_TOKEN or the config file (see `settings_from_environment`). Exit status 0 on success; on an error, 1
and the API's message (and code) on standard error."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import httpx

from fairlabel_client.client import Client
from fairlabel_client.errors import FairlabelError, ImportFailed


def _pools_create(client: Client, args: argparse.Namespace) -> None:
    try:
        fields = tomllib.loads(Path(args.file).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SystemExit(f"fairlabel: {args.file}: {exc}") from exc
    pool = client.create_pool(**fields)
    print(f"created pool {pool['name']!r} ({pool['task_type']}, {pool['status']})", file=sys.stderr)
    print(pool["id"])  # last line: the id, for scripts


def _pools_show(client: Client, args: argparse.Namespace) -> None:
    print(json.dumps(client.pool(args.pool), indent=2, ensure_ascii=False))


def _pools_list(client: Client, args: argparse.Namespace) -> None:
    for pool in client.pools():
        progress = pool["progress"]
        print(f"{pool['id']}\t{pool['status']}\t{progress['completed']}/{progress['tasks']}\t{pool['name']}")


def _pools_open(client: Client, args: argparse.Namespace) -> None:
    pool = client.open_pool(args.pool)
    print(f"pool {pool['id']} is {pool['status']}; reserved {pool['budget']['reserved']}")


def _pools_close(client: Client, args: argparse.Namespace) -> None:
    print(f"pool {args.pool} is {client.close_pool(args.pool)['status']}")


def _pools_watch(client: Client, args: argparse.Namespace) -> None:
    pool = client.watch(args.pool, every=args.every, timeout=args.timeout, progress=True)
    print(f"pool {pool['id']} is {pool['status']}")


def _tasks_upload(client: Client, args: argparse.Namespace) -> None:
    created = client.upload_tasks(args.pool, args.file, progress=not args.quiet)
    print(f"created {created} tasks")


def _download(what: Literal["results", "answers"]) -> Any:
    def run(client: Client, args: argparse.Namespace) -> None:
        target = args.output or f"pool-{args.pool}-{what}.{_suffix(args.format)}"
        method = getattr(args, "method", None)
        client.download(
            args.pool, target, what=what, format=args.format, method=method, progress=not args.quiet
        )
        print(target)

    return run


def _aggregate(client: Client, args: argparse.Namespace) -> None:
    body = client.aggregate(args.answers, gold=args.gold, method=args.method)
    out = open(args.output, "w", newline="", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    try:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(("task", "label", "confidence"))
        for row in body["results"]:
            writer.writerow((row["task"], row["label"], f"{row['confidence']:.6f}"))
    finally:
        if out is not sys.stdout:
            out.close()
    calibration = body["calibration"]
    print(
        f"calibration: {calibration['kind']} on {calibration['golden_tasks']} golden tasks", file=sys.stderr
    )


def _suffix(fmt: str) -> str:
    return {"coco": "json", "label-studio": "json"}.get(fmt, fmt)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="fairlabel", description=__doc__)
    top.add_argument("--url", help="the server (default: FAIRLABEL_URL or the config file)")
    top.add_argument("--token", help="your API token (default: FAIRLABEL_TOKEN or the config file)")
    groups = top.add_subparsers(
        dest="group", required=True, metavar="{pools,tasks,answers,results,aggregate}"
    )

    pools = groups.add_parser("pools", help="create, show, open, close and watch pools").add_subparsers(
        dest="command", required=True
    )
    create = pools.add_parser("create", help="create a pool from a TOML file of POST /pools/ fields")
    create.add_argument("--file", required=True, help="pool.toml: name, labels, reward, overlap, ...")
    create.set_defaults(run=_pools_create)
    pools.add_parser("list", help="every pool: id, status, completed/tasks, name").set_defaults(
        run=_pools_list
    )
    for name, run, text in (
        ("show", _pools_show, "the pool as JSON"),
        ("open", _pools_open, "open the pool and reserve its cost"),
        ("close", _pools_close, "close the pool and release what is not spent"),
    ):
        command = pools.add_parser(name, help=text)
        command.add_argument("pool", type=int)
        command.set_defaults(run=run)
    watch = pools.add_parser("watch", help="show progress until the pool is completed or closed")
    watch.add_argument("pool", type=int)
    watch.add_argument("--every", type=float, default=5.0, help="seconds between polls (default 5)")
    watch.add_argument("--timeout", type=float, default=None, help="give up after this many seconds")
    watch.set_defaults(run=_pools_watch)

    tasks = groups.add_parser("tasks", help="upload tasks").add_subparsers(dest="command", required=True)
    upload = tasks.add_parser("upload", help="add tasks from a .csv, .jsonl or .json file, all or nothing")
    upload.add_argument("pool", type=int)
    upload.add_argument("file")
    upload.add_argument("--quiet", action="store_true", help="no progress bar")
    upload.set_defaults(run=_tasks_upload)

    exports: list[tuple[Literal["results", "answers"], list[str]]] = [
        ("answers", ["csv", "jsonl", "json", "parquet"]),
        ("results", ["csv", "jsonl", "json", "parquet", "coco", "label-studio"]),
    ]
    for what, formats in exports:
        commands = groups.add_parser(what, help=f"download a pool's {what}").add_subparsers(
            dest="command", required=True
        )
        download = commands.add_parser("download", help=f"write the pool's {what} to a file")
        download.add_argument("pool", type=int)
        download.add_argument("--format", choices=formats, default="csv")
        download.add_argument("--output", "-o", help="default: pool-ID-WHAT.FORMAT")
        download.add_argument("--quiet", action="store_true", help="no progress bar")
        download.set_defaults(run=_download(what))
        if what == "results":
            download.add_argument("--method", choices=["ds", "mv", "wawa", "auto"])
    aggregate = groups.add_parser(
        "aggregate",
        help="one label per task from a CSV of answers, as pools aggregate (on the server, no pool needed)",
    )
    aggregate.add_argument("answers", help="CSV with the header task,worker,label")
    aggregate.add_argument("--gold", help="CSV with the header task,label: golden tasks")
    aggregate.add_argument("--method", choices=["ds", "mv", "wawa"], default="ds")
    aggregate.add_argument("--output", "-o", help="CSV task,label,confidence (default: standard output)")
    aggregate.set_defaults(run=_aggregate)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        with Client(args.url, args.token) as client:
            args.run(client, args)
    except ImportFailed as exc:
        row = f" (row {exc.row})" if exc.row else ""
        print(f"fairlabel: {exc.message}{row} [{exc.code}]", file=sys.stderr)
        return 1
    except FairlabelError as exc:
        details = f" {json.dumps(exc.details, ensure_ascii=False)}" if exc.details else ""
        print(f"fairlabel: {exc.message} [{exc.code}]{details}", file=sys.stderr)
        return 1
    except (ValueError, OSError, httpx.HTTPError) as exc:
        print(f"fairlabel: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
