"""The fair-work API: the feed, decisions and appeals, the export, rewards, ratings, care settings."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from decimal import Decimal

import pytest

from fairness.services import block_create, pools_pay_refresh
from tests.factories import StaffFactory, WorkerFactory, open_pool
from tests.fairness.util import answer, answers
from workflows.reviews import answer_reject

pytestmark = pytest.mark.django_db


def test_feed_lists_pools_with_pay_rating_and_warning_and_drops_below_floor_pools(api, settings):
    settings.MIN_HOURLY_PAY = Decimal("8.00")
    fine = open_pool(tasks=30, reward="0.05", name="Fine pool")
    cheap = open_pool(tasks=30, reward="0.01", name="Cheap pool")
    answers(pool=fine, count=5, seconds=10)  # 18.00/h, measured but not judged yet
    answers(pool=cheap, count=20, seconds=10)  # 3.60/h after 20 answers: off the feed
    pools_pay_refresh()
    body = api(WorkerFactory()).get("/api/v1/feed/").json()
    (item,) = body["results"]
    assert item["id"] == fine.pk and item["name"] == "Fine pool"
    assert item["reward"] == "0.05" and item["effective_hourly_pay"] == "18.00"
    assert item["below_floor"] is False and item["requester_rating"] is None
    assert item["content_warning"] is None and item["tasks_left"] == 25
    assert item["requester"] == fine.requester.username


def test_requester_sees_pay_floor_fields_and_raises_the_reward(api, settings):
    settings.MIN_HOURLY_PAY = Decimal("8.00")
    pool = open_pool(tasks=40, reward="0.01")
    answers(pool=pool, count=20, seconds=9)
    pools_pay_refresh()
    client = api(pool.requester)
    body = client.get(f"/api/v1/pools/{pool.pk}/").json()
    assert body["below_floor"] is True and body["effective_hourly_pay"] == "4.00"
    assert body["floor_reward"] == "0.02"
    raised = client.post(f"/api/v1/pools/{pool.pk}/reward/", {"reward": "0.02"}, format="json")
    assert raised.status_code == 200, raised.json()
    assert raised.json()["below_floor"] is False and raised.json()["effective_hourly_pay"] == "8.00"
    assert client.post(f"/api/v1/pools/{pool.pk}/reward/", {"reward": 0.03}, format="json").status_code == 400
    other = api(WorkerFactory()).post(f"/api/v1/pools/{pool.pk}/reward/", {"reward": "0.03"}, format="json")
    assert other.status_code == 403


def test_decisions_and_one_appeal(api):
    pool = open_pool(tasks=3, reward="0.05", acceptance="review")
    worker = WorkerFactory()
    given = answer(pool=pool, worker=worker, seconds=5)
    answer_reject(requester=pool.requester, answer_id=given.pk, reason="Wrong label for a photo of a lamp.")
    client = api(worker)
    (decision,) = client.get("/api/v1/me/decisions/").json()["results"]
    assert decision["kind"] == "rejection" and decision["pool_id"] == pool.pk
    assert (
        decision["reason"] == "Wrong label for a photo of a lamp." and decision["figures"]["reward"] == "0.05"
    )
    assert decision["appeal"] is None and decision["created_at"]
    url = f"/api/v1/me/decisions/{decision['id']}/appeal/"
    first = client.post(url, {"message": "It is a lamp, look at the shade."}, format="json")
    assert first.status_code == 201 and first.json()["status"] == "pending"
    second = client.post(url, {"message": "again"}, format="json")
    assert second.status_code == 409 and second.json()["error"]["code"] == "already_appealed"
    assert api(WorkerFactory()).post(url, {"message": "x"}, format="json").status_code == 404
    # The requester's queue shows it with the worker's record, and deciding needs a written answer.
    queue = api(pool.requester).get("/api/v1/appeals/").json()["results"]
    assert [a["id"] for a in queue] == [first.json()["id"]] and queue[0]["worker"]["rejected"] == 1
    decide = f"/api/v1/appeals/{first.json()['id']}/decide/"
    assert (
        api(pool.requester).post(decide, {"uphold": True, "response": ""}, format="json").status_code == 400
    )
    done = api(pool.requester).post(decide, {"uphold": True, "response": "Indeed."}, format="json")
    assert done.status_code == 200 and done.json()["status"] == "upheld"
    me = client.get("/api/v1/me/").json()
    assert me["balance"]["available"] == "0.05"


def test_a_blocked_worker_sees_the_block_and_gets_nothing(api):
    open_pool(tasks=3, reward="0.01")
    worker = WorkerFactory()
    block_create(staff=StaffFactory(), worker=worker, reason="Shared account.")
    client = api(worker)
    assert client.get("/api/v1/feed/").json()["results"] == []
    assert client.post("/api/v1/assignments/next/", {}, format="json").status_code == 204
    (decision,) = client.get("/api/v1/me/decisions/").json()["results"]
    assert decision["kind"] == "block" and decision["by"] == "person"


def test_export_zip_holds_everything(api):
    pool = open_pool(tasks=5, reward="0.05")
    worker = WorkerFactory(email="ada@example.org")
    given = answer(pool=pool, worker=worker, seconds=7, label="Bad")
    response = api(worker).get("/api/v1/me/export/")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(archive.namelist())
    assert {"profile.json", "answers.csv", "earnings.csv", "skills.csv", "withdrawals.csv"} <= names
    assert {"restrictions.json", "decisions.json", "appeals.json", "ratings_given.json", "data.json"} <= names
    profile = json.loads(archive.read("profile.json"))
    assert profile["email"] == "ada@example.org" and profile["username"] == worker.username
    (row,) = csv.DictReader(io.StringIO(archive.read("answers.csv").decode()))
    assert list(row)[:6] == ["pool_id", "task_id", "label", "submitted_at", "duration_ms", "reward"]
    assert row["pool_id"] == str(pool.pk) and row["task_id"] == str(given.task_id) and row["label"] == "Bad"
    assert row["duration_ms"] == "7000" and row["reward"] == "0.05"
    earnings = list(csv.DictReader(io.StringIO(archive.read("earnings.csv").decode())))
    assert [(e["kind"], e["amount"]) for e in earnings] == [("answer_reward", "0.05")]
    requester_zip = zipfile.ZipFile(io.BytesIO(api(pool.requester).get("/api/v1/me/export/").content))
    assert {"profile.json", "pools.csv", "billing.csv", "deposits.csv", "ratings_received.json"} <= set(
        requester_zip.namelist()
    )
    pools = list(csv.DictReader(io.StringIO(requester_zip.read("pools.csv").decode())))
    assert [p["id"] for p in pools] == [str(pool.pk)]


def test_rating_needs_ten_answers_and_scores_from_1_to_5(api):
    pool = open_pool(tasks=12, reward="0.05")
    worker = WorkerFactory()
    client = api(worker)
    url = f"/api/v1/requesters/{pool.requester_id}/rating/"
    scores = {"pay": 4, "clarity": 5, "fairness": 3, "speed": 4, "comment": "Clear instructions."}
    answers(pool=pool, count=9, seconds=5, workers=[worker])
    assert client.put(url, scores, format="json").status_code == 403
    answer(pool=pool, worker=worker, seconds=5)
    assert client.put(url, scores | {"pay": 6}, format="json").status_code == 400
    assert client.put(url, scores, format="json").status_code == 200
    assert client.put(url, scores | {"pay": 2}, format="json").json()["pay"] == 2  # changing one's mind
    (item,) = api(WorkerFactory()).get("/api/v1/feed/").json()["results"]
    assert item["requester_rating"] == 3.5  # (2 + 5 + 3 + 4) / 4


def test_care_settings(api):
    worker = WorkerFactory()
    client = api(worker)
    assert client.get("/api/v1/me/care/").json() == {"categories": [], "daily_cap": 50, "warned_today": 0}
    saved = client.put("/api/v1/me/care/", {"categories": ["violence"], "daily_cap": 2}, format="json")
    assert saved.json()["categories"] == ["violence"] and saved.json()["daily_cap"] == 2
    assert (
        client.put("/api/v1/me/care/", {"categories": ["gore"], "daily_cap": 2}, format="json").status_code
        == 400
    )
