from __future__ import annotations

import io
from decimal import Decimal

import pytest

from payouts.selectors import balance_for_user
from tasks.models import Pool, Task
from tests.factories import PoolFactory, RequesterFactory, TaskFactory, fund

pytestmark = pytest.mark.django_db

POOL = {
    "name": "Listings",
    "instructions": "Is this listing allowed?",
    "labels": ["OK", "Prohibited"],
    "reward": "0.025",
    "overlap": 3,
}


def test_requester_creates_pool_with_defaults(api, requester):
    response = api(requester).post("/api/v1/pools/", POOL, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["reward"] == "0.025"
    assert body["priority"] == 50 and body["golden_rate"] == 0.1 and body["assignment_ttl"] == 600
    assert body["status"] == "draft"
    assert body["progress"] == {"tasks": 0, "golden": 0, "completed": 0, "answers": 0}
    assert body["budget"] == {"reserved": "0.00", "spent": "0.00"}
    assert body["created_at"].endswith("Z")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"labels": ["OK"]}, "labels"),
        ({"labels": ["OK", "OK"]}, "labels"),
        ({"labels": ["OK", " "]}, "labels"),
        ({"reward": 0.025}, "reward"),
        ({"reward": "-1"}, "reward"),
        ({"reward": "0"}, "reward"),
        ({"reward": "0.00000000000000000001"}, "reward"),
        ({"overlap": 0}, "overlap"),
        ({"overlap": 101}, "overlap"),
        ({"golden_rate": 0.6}, "golden_rate"),
        ({"assignment_ttl": 5}, "assignment_ttl"),
        ({"priority": 101}, "priority"),
    ],
)
def test_bad_pool_settings_are_refused_with_the_field_named(api, requester, change, field):
    response = api(requester).post("/api/v1/pools/", {**POOL, **change}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert field in error["details"]["fields"]
    assert not Pool.objects.exists()


def test_workers_get_403_and_other_requesters_404(api, worker, requester):
    pool = PoolFactory(requester=requester)
    assert api(worker).get("/api/v1/pools/").status_code == 403
    assert api(worker).post("/api/v1/pools/", POOL, format="json").status_code == 403
    assert api(worker).get(f"/api/v1/pools/{pool.pk}/").status_code == 403
    other = RequesterFactory()
    for suffix in ["", "answers/", "results/"]:
        assert api(other).get(f"/api/v1/pools/{pool.pk}/{suffix}").status_code == 404
    for suffix in ["tasks/", "open/", "close/"]:
        assert api(other).post(f"/api/v1/pools/{pool.pk}/{suffix}", {}, format="json").status_code == 404
    assert api(None).get("/api/v1/pools/").status_code == 401
    assert api(requester).get("/api/v1/pools/abc/").status_code == 404


def test_pool_list_shows_only_own_pools_and_pages(api, requester):
    PoolFactory.create_batch(51, requester=requester)
    PoolFactory()  # someone else's
    first = api(requester).get("/api/v1/pools/").json()
    assert len(first["results"]) == 50 and first["next"].endswith("?page=2")
    second = api(requester).get(first["next"]).json()
    assert len(second["results"]) == 1 and second["next"] is None


def test_json_upload_counts_regular_and_golden(api, requester):
    pool = PoolFactory(requester=requester, labels=["OK", "Prohibited"])
    tasks = [{"data": {"title": f"t{i}"}, "golden": None, "external_id": f"x{i}"} for i in range(3)]
    tasks.append({"data": {"title": "gold"}, "golden": "OK", "external_id": None})
    response = api(requester).post(f"/api/v1/pools/{pool.pk}/tasks/", {"tasks": tasks}, format="json")
    assert response.status_code == 201 and response.json() == {"created": 4}
    progress = api(requester).get(f"/api/v1/pools/{pool.pk}/").json()["progress"]
    assert progress["tasks"] == 3 and progress["golden"] == 1


@pytest.mark.parametrize(
    ("tasks", "row", "problem"),
    [
        ([{"data": {"a": 1}}, {"data": {"a": 2}, "golden": "Nope"}], 2, "unknown golden label"),
        ([{"data": {"a": 1}}, {"data": {}}], 2, "missing data"),
        ([{"data": {"a": 1}}, {"golden": "OK"}], 2, "missing data"),
        ([{"data": {"a": 1}}, {"data": {"a": 1}}, "text"], 3, "object"),
    ],
)
def test_one_bad_json_row_rejects_the_whole_upload(api, requester, tasks, row, problem):
    pool = PoolFactory(requester=requester, labels=["OK", "Prohibited"])
    response = api(requester).post(f"/api/v1/pools/{pool.pk}/tasks/", {"tasks": tasks}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["details"]["row"] == row
    assert problem in error["details"]["problem"]
    assert not Task.objects.exists()


def _upload(client, pool, name, content: bytes):
    return client.post(
        f"/api/v1/pools/{pool.pk}/tasks/", {"file": io.BytesIO(content) | _named(name)}, format="multipart"
    )


class _named:
    def __init__(self, name):
        self.name = name

    def __ror__(self, stream):
        stream.name = self.name
        return stream


def test_csv_upload_maps_columns_to_data(api, requester):
    pool = PoolFactory(requester=requester, labels=["OK", "Prohibited"])
    content = b"title,price,golden,external_id\nLamp,12.50,,a1\nGun,99,Prohibited,a2\n"
    response = _upload(api(requester), pool, "tasks.csv", content)
    assert response.status_code == 201, response.json()
    lamp = Task.objects.get(external_id="a1")
    assert lamp.data == {"title": "Lamp", "price": "12.50"} and lamp.golden_label is None
    assert Task.objects.get(external_id="a2").golden_label == "Prohibited"


@pytest.mark.parametrize(
    ("name", "content", "row"),
    [
        ("t.csv", b"title,golden\nLamp,\nGun,Maybe\n", 2),
        ("t.csv", b"title,golden\nLamp,\nGun,OK,extra\n", 2),
        ("t.csv", b"", 0),
        ("t.jsonl", b'{"data": {"a": 1}}\n{"data": \n', 2),
        ("t.jsonl", b'{"data": {"a": 1}}\n{"data": {"a": 2}, "golden": "Nope"}\n', 2),
        ("t.jsonl", b"", 1),
        ("t.csv", b"title\n\xff\xfe broken\n", 1),
    ],
)
def test_bad_files_are_rejected_whole_with_row_numbers(api, requester, name, content, row):
    pool = PoolFactory(requester=requester, labels=["OK", "Prohibited"])
    response = _upload(api(requester), pool, name, content)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["details"]["row"] == row
    assert not Task.objects.exists()


def test_unknown_file_type_is_refused(api, requester):
    pool = PoolFactory(requester=requester)
    response = _upload(api(requester), pool, "tasks.xlsx", b"whatever")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unsupported_file_type"


def test_open_reserves_rewards_plus_fee_or_says_what_is_missing(api, requester):
    pool = PoolFactory(requester=requester, reward=Decimal("0.10"), overlap=2, golden_rate=0.0)
    TaskFactory.create_batch(5, pool=pool)
    response = api(requester).post(f"/api/v1/pools/{pool.pk}/open/")
    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "insufficient_funds"
    # 5 tasks x 2 answers x (0.10 + 10% fee)
    assert error["details"] == {"needed": "1.10", "available": "0.00"}
    fund(requester, "2.00")
    response = api(requester).post(f"/api/v1/pools/{pool.pk}/open/")
    assert response.status_code == 200 and response.json()["status"] == "open"
    assert response.json()["budget"]["reserved"] == "1.10"
    balance = balance_for_user(user=requester)
    assert balance.available == Decimal("0.90") and balance.reserved == Decimal("1.10")
    closed = api(requester).post(f"/api/v1/pools/{pool.pk}/close/").json()
    assert closed["status"] == "closed" and closed["budget"]["reserved"] == "0.00"
    assert balance_for_user(user=requester).available == Decimal("2.00")


def test_open_reserves_the_golden_share(api, requester):
    pool = PoolFactory(requester=requester, reward=Decimal("1"), overlap=1, golden_rate=0.2)
    TaskFactory.create_batch(8, pool=pool)
    TaskFactory(pool=pool, golden_label="OK")
    fund(requester, "100")
    body = api(requester).post(f"/api/v1/pools/{pool.pk}/open/").json()
    # 8 regular answers, and 2 golden ones make golden 20% of the stream: 10 x 1.10
    assert body["budget"]["reserved"] == "11.00"


def test_tasks_added_to_an_open_pool_are_reserved_too(api, requester):
    pool = PoolFactory(requester=requester, reward=Decimal("1"), overlap=1)
    TaskFactory(pool=pool)
    fund(requester, "2.20")
    api(requester).post(f"/api/v1/pools/{pool.pk}/open/")
    ok = api(requester).post(
        f"/api/v1/pools/{pool.pk}/tasks/", {"tasks": [{"data": {"a": 1}}]}, format="json"
    )
    assert ok.status_code == 201
    short = api(requester).post(
        f"/api/v1/pools/{pool.pk}/tasks/", {"tasks": [{"data": {"a": 2}}]}, format="json"
    )
    assert short.status_code == 402
    assert Task.objects.filter(pool=pool).count() == 2


def test_me_shows_role_and_balance(api, requester):
    fund(requester, "10")
    body = api(requester).get("/api/v1/me/").json()
    assert body == {
        "username": requester.username,
        "role": "requester",
        "balance": {"available": "10.00", "reserved": "0.00"},
    }


def test_token_endpoint(api, requester):
    from tests.factories import PASSWORD

    ok = api(None).post(
        "/api/v1/auth/token/", {"username": requester.username, "password": PASSWORD}, format="json"
    )
    assert ok.status_code == 200 and ok.json()["token"] == requester.auth_token.key
    bad = api(None).post(
        "/api/v1/auth/token/", {"username": requester.username, "password": "nope"}, format="json"
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_credentials"
