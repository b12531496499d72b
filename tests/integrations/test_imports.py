"""Large uploads become background jobs: 202 and a job URL, progress, all or nothing, the row that failed."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connections

from integrations.models import ImportJob, ImportStatus, WebhookDelivery
from payouts.selectors import balance_for_user
from tasks.models import PoolStatus, Task
from tests.factories import PoolFactory, RequesterFactory, TaskFactory, fund
from workflows import imports as imports_flow
from workflows import pools as pools_flow
from workflows.pools import pool_close, pool_open

pytestmark = pytest.mark.django_db

LABELS = ["OK", "Bad"]


@pytest.fixture(autouse=True)
def small_threshold(settings, tmp_path):
    settings.IMPORT_BACKGROUND_BYTES = 100
    settings.IMPORT_DIR = tmp_path / "imports"


def jsonl(count: int, *, bad_at: int | None = None) -> bytes:
    lines = []
    for i in range(1, count + 1):
        task = {"data": {"title": f"item {i}"}, "external_id": f"e{i}"}
        if i == bad_at:
            task["golden"] = "Maybe"
        lines.append(json.dumps(task))
    return ("\n".join(lines) + "\n").encode()


def upload(client, pool, name: str, content: bytes):
    file = io.BytesIO(content)
    file.name = name
    return client.post(f"/api/v1/pools/{pool.pk}/tasks/", {"file": file}, format="multipart")


def run_queued() -> None:
    for job_id in ImportJob.objects.filter(status=ImportStatus.QUEUED).values_list("pk", flat=True):
        imports_flow.import_job_run(job_id=job_id)


def test_large_upload_answers_202_and_the_job_reports_what_it_created(api, requester):
    pool = PoolFactory(requester=requester, labels=LABELS)
    client = api(requester)
    response = upload(client, pool, "tasks.jsonl", jsonl(300))
    assert response.status_code == 202, response.content
    job = response.json()["job"]
    assert job["status"] == "queued" and job["url"].endswith(f"/api/v1/imports/{job['id']}/")
    assert not Task.objects.filter(pool=pool).exists()
    run_queued()
    done = client.get(job["url"]).json()
    assert done["status"] == "succeeded" and done["created"] == 300
    assert done["progress"]["percent"] == 100 and done["error"] is None
    assert Task.objects.filter(pool=pool).count() == 300
    assert Task.objects.get(pool=pool, external_id="e7").data == {"title": "item 7"}
    assert not list(Path(ImportJob.objects.get().file_path).parent.iterdir()), "the copy is removed"


def test_a_bad_row_anywhere_fails_the_job_with_its_row_and_imports_nothing(api, requester):
    pool = PoolFactory(requester=requester, labels=LABELS)
    client = api(requester)
    job = upload(client, pool, "tasks.jsonl", jsonl(500, bad_at=487)).json()["job"]
    run_queued()
    failed = client.get(job["url"]).json()
    assert failed["status"] == "failed" and failed["created"] == 0
    assert failed["error"]["row"] == 487 and "unknown golden label" in failed["error"]["message"]
    assert not Task.objects.filter(pool=pool).exists()


def test_background_import_into_an_open_pool_reserves_its_cost(api, requester):
    pool = PoolFactory(requester=requester, labels=LABELS, reward=Decimal("0.10"), overlap=2)
    TaskFactory(pool=pool)
    fund(requester, "100")
    pool_open(pool=pool)
    before = balance_for_user(user=requester).available
    upload(api(requester), pool, "more.csv", b"title\n" + b"".join(b"row %d\n" % i for i in range(50)))
    run_queued()
    assert Task.objects.filter(pool=pool).count() == 51
    # 50 tasks x 2 answers x (0.10 reward + 0.01 fee)
    assert before - balance_for_user(user=requester).available == Decimal("11.00")


def test_a_pool_closed_before_the_job_runs_gets_nothing(api, requester):
    pool = PoolFactory(requester=requester, labels=LABELS)
    job = upload(api(requester), pool, "tasks.jsonl", jsonl(50)).json()["job"]
    pool_close(pool=pool)
    run_queued()
    assert ImportJob.objects.get().status == ImportStatus.FAILED
    assert "closed" in api(requester).get(job["url"]).json()["error"]["message"]
    assert not Task.objects.filter(pool=pool).exists()


def test_running_a_finished_job_again_changes_nothing(api, requester):
    pool = PoolFactory(requester=requester, labels=LABELS)
    upload(api(requester), pool, "tasks.jsonl", jsonl(40))
    run_queued()
    job = ImportJob.objects.get()
    imports_flow.import_job_run(job_id=job.pk)
    assert Task.objects.filter(pool=pool).count() == 40


def test_jobs_are_private_and_unknown_ids_are_404(api, requester):
    pool = PoolFactory(requester=requester, labels=LABELS)
    job = upload(api(requester), pool, "tasks.jsonl", jsonl(40)).json()["job"]
    assert api(RequesterFactory()).get(job["url"]).status_code == 404
    assert api(requester).get("/api/v1/imports/not-a-uuid/").status_code == 404


def test_unsupported_files_and_paused_pools_are_refused_before_queueing(api, requester):
    pool = PoolFactory(requester=requester, labels=LABELS)
    assert upload(api(requester), pool, "tasks.xlsx", b"x" * 500).json()["error"]["code"] == (
        "unsupported_file_type"
    )
    pool.status = PoolStatus.PAUSED
    pool.save()
    assert upload(api(requester), pool, "tasks.jsonl", jsonl(40)).status_code == 409
    assert not ImportJob.objects.exists()


def test_import_finished_webhook_is_recorded_with_the_outcome(api, requester, monkeypatch):
    from integrations.models import Webhook

    Webhook.objects.create(requester=requester, url="https://hooks.example.com/x", events=["import.finished"])
    pool = PoolFactory(requester=requester, labels=LABELS)
    upload(api(requester), pool, "tasks.jsonl", jsonl(30, bad_at=12))
    run_queued()
    delivery = WebhookDelivery.objects.get()
    body = json.loads(delivery.body)
    assert body["event"] == "import.finished"
    assert body["data"]["status"] == "failed" and body["data"]["error"]["row"] == 12


def test_the_pool_page_shows_a_background_import_and_its_outcome(requester):
    from django.test import Client

    pool = PoolFactory(requester=requester, labels=LABELS)
    client = Client()
    client.force_login(requester)
    file = io.BytesIO(jsonl(100))
    file.name = "big.jsonl"
    page = client.post(f"/pools/{pool.pk}/upload/", {"file": file}, follow=True).content.decode()
    assert "imported in the background" in page and "big.jsonl" in page and "Queued" in page
    run_queued()
    fragment = client.get(f"/pools/{pool.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "100 tasks imported" in fragment


@pytest.mark.django_db(transaction=True)
def test_progress_is_visible_to_others_while_the_import_runs(settings, monkeypatch):

    requester = RequesterFactory()
    pool = PoolFactory(requester=requester, labels=LABELS)
    path = Path(settings.IMPORT_DIR)
    path.mkdir(parents=True)
    (path / "big.jsonl").write_bytes(jsonl(5000))
    job = ImportJob.objects.create(
        pool=pool, requester=requester, file_name="big.jsonl", file_path=str(path / "big.jsonl"), file_size=1
    )
    job.file_size = (path / "big.jsonl").stat().st_size
    job.save()
    seen: list[tuple[str, int, int]] = []
    original = pools_flow.tasks_import

    def observed(**kwargs):
        report = kwargs["on_progress"]

        def on_progress(n: int) -> None:
            report(n)
            # Another connection, as the API serving GET /imports/<id>/ would use.
            other = connections.create_connection("default")
            with other.cursor() as cursor:
                cursor.execute(
                    "SELECT status, rows_read, bytes_read FROM integrations_importjob WHERE id = %s", [job.pk]
                )
                seen.append(cursor.fetchone())
                cursor.execute("SELECT count(*) FROM tasks_task WHERE pool_id = %s", [pool.pk])
                seen.append(("tasks visible", cursor.fetchone()[0], 0))
            other.close()

        return original(**{**kwargs, "on_progress": on_progress, "progress_every": 1000})

    monkeypatch.setattr("workflows.imports.tasks_import", observed)
    imports_flow.import_job_run(job_id=job.pk)
    assert ("running", 2000, seen[2][2]) == seen[2] and 0 < seen[2][2] < job.file_size
    assert all(count == 0 for name, count, _ in seen if name == "tasks visible"), (
        "nothing shows before commit"
    )
    assert ImportJob.objects.get(pk=job.pk).status == ImportStatus.SUCCEEDED
    assert Task.objects.filter(pool=pool).count() == 5000


def test_large_json_and_csv_files_import_in_the_background_too(api, requester):
    pool = PoolFactory(requester=requester, labels=LABELS)
    client = api(requester)
    tasks = [{"data": {"title": f"item {i}"}, "golden": "OK" if i % 10 == 0 else None} for i in range(200)]
    assert upload(client, pool, "tasks.json", json.dumps({"tasks": tasks}).encode()).status_code == 202
    csv_rows = b"title,external_id\n" + b"".join(b"row %d,c%d\n" % (i, i) for i in range(100))
    assert upload(client, pool, "more.csv", csv_rows).status_code == 202
    run_queued()
    assert ImportJob.objects.filter(status=ImportStatus.SUCCEEDED).count() == 2
    assert Task.objects.filter(pool=pool).count() == 300
    assert Task.objects.filter(pool=pool, golden_label="OK").count() == 20
    assert Task.objects.get(pool=pool, external_id="c42").data == {"title": "row 42"}
