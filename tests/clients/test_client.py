"""The Python client's requester flow against the real server: create, upload, open, watch, download."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import httpx
import pandas
import pytest
from fairlabel_client import Client, FairlabelError, ImportFailed, RateLimited

from accounts.models import User
from accounts.services import token_for
from tasks.models import Pool, Task
from tests.clients.conftest import RATE

POOL = {"name": "Listings", "labels": ["OK", "Spam"], "reward": "0.05", "overlap": 1, "golden_rate": 0}


def _answer_everything(server: Any, pool_id: int, workers: list[User], label: str = "OK") -> None:
    """Workers answer through the server's API, so its own background jobs follow (completion, aggregation)."""
    for worker in workers:
        headers = {"Authorization": f"Token {token_for(user=worker).key}"}
        with httpx.Client(base_url=server.url + "/api/v1/", headers=headers, timeout=30) as api:
            while (task := api.post("assignments/next/", json={"pool": pool_id})).status_code == 200:
                submitted = api.post(f"assignments/{task.json()['id']}/submit/", json={"answer": label})
                assert submitted.status_code == 200, submitted.text
            assert task.status_code == 204, task.text


def test_the_whole_flow_from_a_dataframe_to_a_dataframe(
    server: Any, connection_env: User, workers: list[User]
) -> None:
    frame = pandas.DataFrame(
        {"text": ["cheap watches", "a blue bike", "free money"], "external_id": ["a", "b", "c"]}
    )
    with Client() as client:
        pool = client.create_pool(**POOL, instructions="Is it spam?")
        assert pool["status"] == "draft" and pool["task_type"] == "single_choice"
        assert client.upload_tasks(pool["id"], frame) == 3
        opened = client.open_pool(pool["id"])
        assert opened["status"] == "open"
        assert opened["budget"]["reserved"] != "0.00"
        _answer_everything(server, pool["id"], workers, label="Spam")
        finished = client.watch(pool["id"], every=0.1, timeout=30)
        assert finished["status"] == "completed"
        assert finished["progress"]["completed"] == 3
        results = client.results_dataframe(pool["id"])
    assert sorted(results["external_id"]) == ["a", "b", "c"]
    assert set(results["answer"]) == {"Spam"}
    assert results["confidence"].between(0, 1).all()


def test_a_list_of_tasks_is_all_or_nothing(connection_env: User) -> None:
    with Client() as client:
        pool = client.create_pool(**POOL)
        tasks: list[dict[str, Any]] = [{"data": {"text": "fine"}}, {"data": {}}]
        with pytest.raises(FairlabelError) as refused:
            client.upload_tasks(pool["id"], tasks)
    assert refused.value.status == 400
    assert refused.value.code == "invalid_upload"
    assert "row 2" in refused.value.message or refused.value.details
    assert not Task.objects.filter(pool_id=pool["id"]).exists()


def test_a_big_file_goes_through_the_background_import_and_is_waited_for(
    connection_env: User, tmp_path: Path
) -> None:
    path = tmp_path / "tasks.jsonl"
    with path.open("w") as out:
        for n in range(3000):
            out.write(json.dumps({"data": {"text": f"listing number {n} " + "x" * 20}}) + "\n")
    assert path.stat().st_size > 64 * 1024
    with Client() as client:
        pool = client.create_pool(**POOL)
        assert client.upload_tasks(pool["id"], path, poll_every=0.2) == 3000
    assert Task.objects.filter(pool_id=pool["id"]).count() == 3000


def test_a_failed_background_import_is_an_exception_naming_the_row(
    connection_env: User, tmp_path: Path
) -> None:
    path = tmp_path / "tasks.jsonl"
    lines = [json.dumps({"data": {"text": f"listing {n} " + "x" * 40}}) for n in range(2000)]
    lines[1500] = '{"data": "not an object"}'
    path.write_text("\n".join(lines) + "\n")
    with Client() as client:
        pool = client.create_pool(**POOL)
        with pytest.raises(ImportFailed) as failed:
            client.upload_tasks(pool["id"], path, poll_every=0.2)
    assert failed.value.row == 1501
    assert not Task.objects.filter(pool_id=pool["id"]).exists()


def test_errors_carry_the_api_code_message_and_details(connection_env: User) -> None:
    with Client() as client:
        with pytest.raises(FairlabelError) as invalid:
            client.create_pool(name="No labels", reward="0.05", overlap=1)
        with pytest.raises(FairlabelError) as missing:
            client.pool(999999999)
    assert (invalid.value.status, invalid.value.code) == (400, "invalid_request")
    assert "labels" in invalid.value.details["fields"]
    assert (missing.value.status, missing.value.code) == (404, "not_found")


def test_a_wrong_token_is_refused_with_the_api_code(server: Any, transactional_db: Any) -> None:
    with Client(server.url, "not-a-token") as client, pytest.raises(FairlabelError) as refused:
        client.me()
    assert refused.value.status == 401


def test_a_429_is_waited_out_and_retried(connection_env: User) -> None:
    seen: list[int] = []
    with Client() as client:
        client._http.event_hooks["response"].append(lambda response: seen.append(response.status_code))
        for _ in range(RATE * 2):
            assert client.me()["username"] == connection_env.username
    assert 429 in seen  # the server did refuse some calls ...
    assert seen.count(200) == RATE * 2  # ... and every one was answered in the end


def test_without_retries_a_429_is_an_exception_with_the_wait(connection_env: User) -> None:
    with Client(max_retries=0) as client, pytest.raises(RateLimited) as limited:
        for _ in range(RATE * 3):
            client.me()
    assert limited.value.code == "throttled"
    assert limited.value.retry_after >= 1


def test_downloads_stream_to_a_file_and_iterate(
    server: Any, connection_env: User, workers: list[User], tmp_path: Path
) -> None:
    with Client() as client:
        pool = client.create_pool(**POOL)
        client.upload_tasks(pool["id"], [{"text": f"t{n}"} for n in range(5)])
        client.open_pool(pool["id"])
        _answer_everything(server, pool["id"], workers[:1])
        target = client.download(pool["id"], tmp_path / "answers.csv", what="answers")
        answers = list(client.answers(pool["id"]))
        with pytest.raises(FairlabelError) as bad_format:
            client.download(pool["id"], tmp_path / "x.txt", format="xml")
    with target.open() as f:
        assert len(list(csv.DictReader(f))) == 5
    assert len(answers) == 5 and {a["label"] for a in answers} == {"OK"}
    assert bad_format.value.code == "invalid_format"
    assert not (tmp_path / "x.txt").exists() and not (tmp_path / "x.txt.part").exists()


def test_every_pool_is_listed_across_pages(connection_env: User) -> None:
    for n in range(55):
        Pool.objects.create(
            requester=connection_env, name=f"p{n}", labels=["A", "B"], reward="0.05", overlap=1
        )
    with Client() as client:
        names = [pool["name"] for pool in client.pools()]
    assert sorted(names) == sorted(f"p{n}" for n in range(55))


def test_the_server_and_token_come_from_a_config_file(
    server: Any, funded_requester: User, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'url = "{server.url}"\ntoken = "{token_for(user=funded_requester).key}"\n')
    for name in ("FAIRLABEL_URL", "FAIRLABEL_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FAIRLABEL_CONFIG", str(config))
    with Client() as client:
        assert client.me()["username"] == funded_requester.username
    monkeypatch.setenv("FAIRLABEL_CONFIG", str(tmp_path / "absent.toml"))
    with pytest.raises(ValueError, match="FAIRLABEL_URL"):
        Client()


def test_a_server_that_is_not_there_is_an_http_error(transactional_db: Any) -> None:
    from tests.processes import free_port

    with (
        Client(f"http://127.0.0.1:{free_port()}", "t", timeout=2) as client,
        pytest.raises(httpx.ConnectError),
    ):
        client.me()
