"""The requester's whole flow against the Fairlabel API v1, one method per step.

Every call goes through `Client._send`, which turns an error answer into a `FairlabelError` carrying the API's
code, message and details, and waits out a 429 for as long as its Retry-After says (up to `max_retries` times).
Uploads and downloads are streamed: a file of tasks is read as it is sent, an export is parsed as it arrives.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, TypedDict, cast

import httpx
from tqdm import tqdm

from fairlabel_client.errors import FairlabelError, ImportFailed, RateLimited

if TYPE_CHECKING:
    import pandas

CONFIG_PATH = Path("~/.config/fairlabel/config.toml")
FINISHED = ("completed", "closed")
ExportFormat = Literal["csv", "jsonl", "json", "parquet", "coco", "label-studio"]


class Progress(TypedDict):
    tasks: int
    golden: int
    completed: int
    answers: int


class Pool(TypedDict, total=False):
    """A pool as the API returns it; a task type's own options (max_length, allow_tie, ...) sit beside these."""

    id: int
    name: str
    instructions: str
    task_type: str
    labels: list[str]
    reward: str
    overlap: int
    status: str
    progress: Progress
    budget: dict[str, str]
    aggregation_method: str
    target_confidence: float | None
    effective_hourly_pay: str | None
    below_floor: bool


def settings_from_environment(url: str | None = None, token: str | None = None) -> tuple[str, str]:
    """The server and token: the arguments, else FAIRLABEL_URL and FAIRLABEL_TOKEN, else the config file
    (FAIRLABEL_CONFIG, default ~/.config/fairlabel/config.toml, with `url = "..."` and `token = "..."`)."""
    path = Path(os.environ.get("FAIRLABEL_CONFIG") or CONFIG_PATH).expanduser()
    stored: dict[str, Any] = {}
    if path.is_file():
        stored = tomllib.loads(path.read_text(encoding="utf-8"))
    url = url or os.environ.get("FAIRLABEL_URL") or stored.get("url")
    token = token or os.environ.get("FAIRLABEL_TOKEN") or stored.get("token")
    if not url or not token:
        raise ValueError(
            f"Say which server and token to use: FAIRLABEL_URL and FAIRLABEL_TOKEN, or url and token in {path}."
        )
    return str(url).rstrip("/"), str(token)


def _error_from(response: httpx.Response) -> FairlabelError:
    try:
        error = response.json()["error"]
        code, message, details = str(error["code"]), str(error["message"]), dict(error.get("details") or {})
    except (ValueError, KeyError, TypeError):
        # Not the API's body (a proxy in between, for instance): keep what there is.
        code, message, details = (
            f"http_{response.status_code}",
            response.text[:500] or response.reason_phrase,
            {},
        )
    fields: dict[str, Any] = {
        "status": response.status_code,
        "code": code,
        "message": message,
        "details": details,
    }
    if response.status_code == 429:
        return RateLimited(retry_after=_retry_after(response), **fields)
    return FairlabelError(**fields)


def _retry_after(response: httpx.Response) -> float:
    try:
        seconds = float(response.headers.get("Retry-After", "1"))
    except ValueError:
        seconds = 1.0
    return seconds if math.isfinite(seconds) and seconds > 0 else 1.0


def _raise_for(response: httpx.Response) -> None:
    if response.status_code >= 400:
        raise _error_from(response)


class _CountingReader(io.RawIOBase):
    """A file that moves a progress bar as httpx reads it to send it."""

    def __init__(self, file: IO[bytes], bar: tqdm[Any]) -> None:
        self._file = file
        self._bar = bar

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self._file.read(size)
        self._bar.update(len(chunk))
        return chunk

    def fileno(self) -> int:  # httpx reads the length from the file itself
        return self._file.fileno()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()


def _task_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """One task as the upload takes it: {"data", "golden", "external_id"}; a flat row (a DataFrame's) has its
    other columns as the data fields, like a CSV upload."""
    if "data" in row:
        return {key: value for key, value in row.items() if value is not None}
    special = {"golden", "external_id"}
    record: dict[str, Any] = {"data": {k: _plain(v) for k, v in row.items() if k not in special}}
    for key in special:
        value = _plain(row.get(key))
        if value is not None:
            record[key] = value
    return record


def _plain(value: Any) -> Any:
    """numpy and pandas scalars as JSON values; NaN (pandas' empty cell) as no value."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


class Client:
    """A requester's session with one Fairlabel server.

    >>> with Client("https://labels.example.com", "TOKEN") as fl:   # or Client() to read the environment
    ...     pool = fl.create_pool(name="Listings", labels=["OK", "Spam"], reward="0.05", overlap=3)
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 5,
        progress: bool = False,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url, token = settings_from_environment(url, token)
        self.max_retries = max_retries
        self.progress = progress
        self._http = httpx.Client(
            base_url=self.url + "/api/v1/",
            headers={"Authorization": f"Token {token}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------------------------------------------- transport

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self._with_retries(lambda: self._http.request(method, path, **kwargs))

    def _with_retries(self, send: Callable[[], httpx.Response]) -> httpx.Response:
        for attempt in range(self.max_retries + 1):
            response = send()
            if response.status_code == 429 and attempt < self.max_retries:
                time.sleep(_retry_after(response))
                continue
            _raise_for(response)
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")

    @contextmanager
    def _stream(self, path: str, params: dict[str, str]) -> Iterator[httpx.Response]:
        for attempt in range(self.max_retries + 1):
            with self._http.stream("GET", path, params=params) as response:
                if response.status_code == 429 and attempt < self.max_retries:
                    wait = _retry_after(response)
                else:
                    if response.status_code >= 400:
                        response.read()  # an error body is small; read it to raise with its code
                    _raise_for(response)
                    yield response
                    return
            time.sleep(wait)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._send(method, path, **kwargs).json()

    # -------------------------------------------------------------------------------------------------- pools

    def me(self) -> dict[str, Any]:
        return dict(self._json("GET", "me/"))

    def create_pool(self, **fields: Any) -> Pool:
        """Every field of `POST /pools/`: name, labels, reward, overlap, task_type and the type's options,
        quality settings (golden_rate, min_skill, aggregation_method, target_confidence, ...), acceptance."""
        if "reward" in fields:
            fields["reward"] = str(fields["reward"])  # money travels as text, never as a float
        return Pool(**self._json("POST", "pools/", json=fields))

    def pool(self, pool_id: int) -> Pool:
        return Pool(**self._json("GET", f"pools/{pool_id}/"))

    def pools(self) -> Iterator[Pool]:
        """Every pool of the requester, newest first, page by page."""
        page: str | None = "pools/"
        while page:
            body = self._json("GET", page)
            yield from (Pool(**pool) for pool in body["results"])
            page = body["next"]

    def open_pool(self, pool_id: int) -> Pool:
        """Opens the pool and reserves its cost; a second call is refused (invalid_status) and reserves nothing."""
        return Pool(**self._json("POST", f"pools/{pool_id}/open/"))

    def close_pool(self, pool_id: int) -> Pool:
        return Pool(**self._json("POST", f"pools/{pool_id}/close/"))

    def set_reward(self, pool_id: int, reward: str) -> Pool:
        """Raise the reward; the extra cost is reserved at once. Setting the same reward again moves no money."""
        return Pool(**self._json("POST", f"pools/{pool_id}/reward/", json={"reward": str(reward)}))

    def watch(
        self, pool_id: int, *, every: float = 5.0, timeout: float | None = None, progress: bool | None = None
    ) -> Pool:
        """Polls the pool until it is completed or closed (or `timeout` seconds pass) and returns it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pool = self.pool(pool_id)
        show = self.progress if progress is None else progress
        with tqdm(total=pool["progress"]["tasks"], unit="task", disable=not show, desc=pool["name"]) as bar:
            while True:
                bar.n = pool["progress"]["completed"]
                bar.refresh()
                if pool["status"] in FINISHED:
                    return pool
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(f"pool {pool_id} is still {pool['status']} after {timeout} s")
                time.sleep(every)
                pool = self.pool(pool_id)

    # -------------------------------------------------------------------------------------------------- tasks

    def upload_tasks(
        self,
        pool_id: int,
        tasks: str | os.PathLike[str] | Iterable[Mapping[str, Any]] | pandas.DataFrame,
        *,
        progress: bool | None = None,
        poll_every: float = 1.0,
    ) -> int:
        """Adds tasks, all or nothing, and returns how many were created.

        `tasks` is a file (.csv, .jsonl or .json, Label Studio's task export included), a list of task objects
        ({"data", "golden", "external_id"} or flat rows), or a pandas DataFrame (one row per task, its columns
        the data fields, `golden` and `external_id` apart). A file is sent as it is read; a large one is
        imported by the server in the background, which this waits for.
        """
        show = self.progress if progress is None else progress
        if isinstance(tasks, (str, os.PathLike)):
            return self._upload_file(pool_id, Path(tasks), show=show, poll_every=poll_every)
        is_frame = hasattr(tasks, "to_dict") and hasattr(tasks, "columns")
        rows: Iterable[Mapping[str, Any]] = cast(Any, tasks).to_dict("records") if is_frame else tasks
        # Written to a file and sent as one upload, so a list is as all-or-nothing as a file.
        with tempfile.TemporaryDirectory(prefix="fairlabel-") as folder:
            path = Path(folder) / "tasks.jsonl"
            with path.open("w", encoding="utf-8") as out:
                for row in rows:
                    out.write(json.dumps(_task_record(row), ensure_ascii=False) + "\n")
            return self._upload_file(pool_id, path, show=show, poll_every=poll_every)

    def _upload_file(self, pool_id: int, path: Path, *, show: bool, poll_every: float) -> int:
        size = path.stat().st_size

        def send() -> httpx.Response:
            with (
                path.open("rb") as file,
                tqdm(
                    total=size, unit="B", unit_scale=True, disable=not show, desc=f"upload {path.name}"
                ) as bar,
            ):
                reader: IO[bytes] = _CountingReader(file, bar)  # type: ignore[assignment]
                return self._http.post(f"pools/{pool_id}/tasks/", files={"file": (path.name, reader)})

        body = self._with_retries(send).json()
        if "created" in body:
            return int(body["created"])
        return self._wait_for_import(body["job"], show=show, poll_every=poll_every)

    def _wait_for_import(self, job: dict[str, Any], *, show: bool, poll_every: float) -> int:
        with tqdm(total=100, unit="%", disable=not show, desc="import") as bar:
            while job["status"] not in ("succeeded", "failed"):
                time.sleep(poll_every)
                job = self._json("GET", job["url"])
                bar.n = int(job["progress"]["percent"] or 0)
                bar.refresh()
        if job["status"] == "failed":
            error = job["error"] or {}
            raise ImportFailed(
                status=400,
                code=str(error.get("code") or "import_failed"),
                message=str(error.get("message") or "The import failed; nothing was written."),
                details={"job": job["id"]},
                row=error.get("row"),
            )
        return int(job["created"])

    def import_job(self, job_id: str) -> dict[str, Any]:
        return dict(self._json("GET", f"imports/{job_id}/"))

    # ----------------------------------------------------------------------------------------------- exports

    def answers(self, pool_id: int) -> Iterator[dict[str, Any]]:
        """Every answer of the pool, one dict each, parsed as the server streams them."""
        return self._rows(f"pools/{pool_id}/answers/", {})

    def results(self, pool_id: int, *, method: str | None = None) -> Iterator[dict[str, Any]]:
        """One result per regular task (answer, confidence, calibration, ...); `method` overrides the pool's."""
        return self._rows(f"pools/{pool_id}/results/", {"method": method} if method else {})

    def answers_dataframe(self, pool_id: int) -> pandas.DataFrame:
        import pandas

        return pandas.DataFrame.from_records(list(self.answers(pool_id)))

    def results_dataframe(self, pool_id: int, *, method: str | None = None) -> pandas.DataFrame:
        import pandas

        return pandas.DataFrame.from_records(list(self.results(pool_id, method=method)))

    def _rows(self, path: str, params: dict[str, str]) -> Iterator[dict[str, Any]]:
        with self._stream(path, {**params, "format": "jsonl"}) as response:
            for line in response.iter_lines():
                if line:
                    yield json.loads(line)

    def download(
        self,
        pool_id: int,
        to: str | os.PathLike[str],
        *,
        what: Literal["results", "answers"] = "results",
        format: ExportFormat = "csv",
        method: str | None = None,
        progress: bool | None = None,
    ) -> Path:
        """Writes an export to a file as it arrives and returns its path; nothing is left of a failed one."""
        params = {"format": format, **({"method": method} if method else {})}
        target = Path(to)
        show = self.progress if progress is None else progress
        partial = target.with_name(target.name + ".part")
        try:
            with (
                self._stream(f"pools/{pool_id}/{what}/", params) as response,
                partial.open("wb") as out,
                tqdm(unit="B", unit_scale=True, disable=not show, desc=target.name) as bar,
            ):
                for chunk in response.iter_bytes():
                    out.write(chunk)
                    bar.update(len(chunk))
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        return target

    # ----------------------------------------------------------------------------------------------- quality

    def aggregate(
        self,
        answers: str | os.PathLike[str],
        *,
        gold: str | os.PathLike[str] | None = None,
        method: str = "ds",
    ) -> dict[str, Any]:
        """Aggregates a CSV of task,worker,label rows (and golden task,label rows) with the pools' own maths,
        no pool needed: {"results": [{"task", "label", "confidence"}], "calibration": {...}}."""
        with ExitStack() as files:
            sent = {"answers": (Path(answers).name, files.enter_context(Path(answers).open("rb")))}
            if gold is not None:
                sent["gold"] = (Path(gold).name, files.enter_context(Path(gold).open("rb")))
            return dict(self._json("POST", "aggregate/", files=sent, data={"method": method}))
