# ruff: noqa: RUF001  (the digits of other scripts are what these tests send)
"""Every number a person can send, at the edges of what its column holds and just past them.

A value the API accepts but the database cannot hold breaks every later read of its row: a pool's reward is read by
every worker's feed. So each writable numeric field is sent its smallest and largest accepted values (which must
be written and read back, and leave every page that shows them working) and the next ones outside, the column's
own limits, and the spellings Python would read but a person does not mean; each refusal is a 400 that names the
field and writes nothing.
"""

from __future__ import annotations

import io
import json
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from fairlabel.money import INPUT_MAX, parse_money
from fairlabel.numbers import BIGINT_MAX, decimal_max, int_range, parse_id, parse_whole
from fairness import services as fairness_services
from fairness.models import PoolPay
from payouts.models import Entry, Withdrawal
from requester.forms import PoolForm
from tasks import actors
from tasks.models import Answer, Pool, PoolStatus, Task
from tests.factories import PoolFactory, TaskFactory, WorkerFactory, fund
from workflows import pools as pools_flow

pytestmark = pytest.mark.django_db

# Spellings int(), float() or Decimal() would read that are not what a person typing a number means.
LOOSE_WHOLE = ["٥", "５", " 5", "5 ", "+5", "1_0", "1e1", "5.0", "0x5", "", "five", 5.0, True, [5], {"n": 5}]
LOOSE_MONEY = [
    "1e-2",
    "1E2",
    "+0.05",
    "5.",
    ".5",
    " 0.05",
    "0.05 ",
    "0.05\n",
    "٠.٥",
    "０.０５",
    "1_000",
    "0x10",
    "-0.05",
    "NaN",
    "Infinity",
    "",
    0.05,
    1,
    True,
    None,
]


def _written() -> tuple[int, ...]:
    return (
        Pool.objects.count(),
        Task.objects.count(),
        Answer.objects.count(),
        Entry.objects.count(),
        Withdrawal.objects.count(),
    )


def _refused(response: Any, field: str) -> None:
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert error["message"]
    assert field in error["details"].get("fields", {}) or field in error["message"], error


def _deposit(user: Any, amount: Decimal) -> None:
    # Deposits are at most INPUT_MAX each, like every typed amount.
    while amount > 0:
        step = min(amount, INPUT_MAX)
        fund(user, str(step))
        amount -= step


# ------------------------------------------------------------------------------ the column limits themselves


def test_every_typed_amount_fits_the_reward_columns():
    for model in (Pool, Answer):
        assert decimal_max(model._meta.get_field("reward")) == INPUT_MAX == Decimal("99999999.9999")
    assert parse_money("99999999.9999", field="reward") == INPUT_MAX
    with pytest.raises(ValueError, match="at most"):
        parse_money("100000000", field="reward")


def test_the_pay_figures_hold_what_the_largest_reward_derives():
    # The largest reward answered in 1 ms, per hour.
    assert decimal_max(PoolPay._meta.get_field("effective_hourly_pay")) >= INPUT_MAX * 3_600_000


# ---------------------------------------------------------------------------------------- the pool's fields

# (field, the column it is written to, smallest accepted, largest accepted)
POOL_WHOLE_FIELDS = [
    ("overlap", "overlap", 1, 100),
    ("priority", "priority", 0, 100),
    ("assignment_ttl", "assignment_ttl", 10, 86400),
    ("min_golden", "min_golden", 1, 1000),
    ("min_overlap", "min_overlap", 1, 3),  # at most the pool's overlap (3 here)
    ("review_hours", "review_hours", 1, 72),
]
# (field, smallest, largest accepted, the field's own bound): a min_skill of 1 is within its bound but no worker
# could ever meet it, which the pool's quality check refuses.
POOL_REAL_FIELDS = [
    ("golden_rate", 0.0, 0.5, 0.5),
    ("min_skill", 0.0, 0.998, 1.0),
    ("min_seconds", 0.0, 3600.0, 3600.0),
    ("target_confidence", 0.5, 1.0, 1.0),
]


# Settings a field is only valid beside (the quality checks that the rule can be met at all).
COMPANIONS: dict[str, dict[str, Any]] = {
    "min_golden": {"min_skill": 0.5},
    "min_overlap": {"target_confidence": 0.9},
    "min_skill": {"min_golden": 1000},
}


def _pool_body(**fields: Any) -> dict[str, Any]:
    body = {"name": "Edges", "labels": ["A", "B"], "reward": "0.05", "overlap": 3, **fields}
    for field in fields:
        body = COMPANIONS.get(field, {}) | body
    return body


def _outside_whole(column: str, low: int, high: int) -> list[Any]:
    column_low, column_high = int_range(Pool._meta.get_field(column))
    edges = [low - 1, high + 1, column_low - 1, column_low, column_high, column_high + 1, 2**63, -(2**63) - 1]
    return [value for value in edges if not low <= value <= high]


@pytest.mark.parametrize(("field", "column", "low", "high"), POOL_WHOLE_FIELDS)
def test_pool_whole_numbers_at_their_edges_through_the_api(api, requester, field, column, low, high):
    client = api(requester)
    for value in (low, high, str(high)):
        response = client.post("/api/v1/pools/", _pool_body(**{field: value}), format="json")
        assert response.status_code == 201, (field, value, response.content)
        assert response.json()[field] == int(value)
        assert client.get(f"/api/v1/pools/{response.json()['id']}/").json()[field] == int(value)
    before = _written()
    for value in [*_outside_whole(column, low, high), *LOOSE_WHOLE]:
        response = client.post("/api/v1/pools/", _pool_body(**{field: value}), format="json")
        _refused(response, field)
    assert _written() == before


@pytest.mark.parametrize(
    ("field", "column", "low", "high"), [f for f in POOL_WHOLE_FIELDS if f[0] in PoolForm.base_fields]
)
def test_pool_whole_numbers_at_their_edges_through_the_form(requester, field, column, low, high):
    client = Client()
    client.force_login(requester)
    form = {"name": "Edges", "labels": "A\nB", "reward": "0.05", "overlap": "3", "priority": "50"}
    form |= {"golden_rate": "0.1", "assignment_ttl": "600", "review_hours": "24"}
    response = client.post("/pools/new/", {**form, field: str(high)})
    assert response.status_code == 302, response.content[:2000]
    before = _written()
    for value in [*_outside_whole(column, low, high), *[v for v in LOOSE_WHOLE if isinstance(v, str) and v]]:
        response = client.post("/pools/new/", {**form, field: str(value)})
        assert response.status_code == 200, (field, value)
        assert "must be a whole number" in response.content.decode(), (field, value)
    assert _written() == before


@pytest.mark.parametrize(("field", "low", "high", "bound"), POOL_REAL_FIELDS)
def test_pool_fractions_at_their_edges(api, requester, field, low, high, bound):
    client = api(requester)
    for value in (low, high, str(high)):
        response = client.post("/api/v1/pools/", _pool_body(**{field: value}), format="json")
        assert response.status_code == 201, (field, value, response.content)
    before = _written()
    for value in [bound + 1e-9, low - 1e-9, 1e308, -1e308, "1e-1", "inf", "nan", "٠.٥", " 0.5", True, "0.5."]:
        _refused(client.post("/api/v1/pools/", _pool_body(**{field: value}), format="json"), field)
    # A number no double can hold, as JSON spells it: parsed as infinity.
    raw = json.dumps(_pool_body()).replace('"overlap": 3', f'"overlap": 3, "{field}": 1e999')
    response = client.post("/api/v1/pools/", raw, content_type="application/json")
    assert response.status_code == 400
    assert _written() == before


# ------------------------------------------------------------------------------------------------ money


@pytest.mark.parametrize("reward", LOOSE_MONEY)
def test_money_is_read_exactly_as_the_schema_says_on_every_path(api, requester, worker, reward):
    fund(requester, "100.00")
    pool = PoolFactory.create(requester=requester, reward=Decimal("0.05"))
    TaskFactory.create(pool=pool)
    pools_flow.pool_open(pool=pool)
    before = _written()
    client = api(requester)
    _refused(client.post("/api/v1/pools/", _pool_body(reward=reward), format="json"), "reward")
    _refused(client.post(f"/api/v1/pools/{pool.pk}/reward/", {"reward": reward}, format="json"), "reward")
    _refused(api(worker).post("/api/v1/me/withdrawals/", {"amount": reward}, format="json"), "amount")
    if isinstance(reward, str):
        page = Client()
        page.force_login(requester)
        form = {"name": "P", "labels": "A\nB", "reward": reward, "overlap": "1", "priority": "50"}
        response = page.post("/pools/new/", {**form, "golden_rate": "0.1", "assignment_ttl": "600"})
        assert response.status_code == 200 and "reward" in response.content.decode()
        page.post(f"/pools/{pool.pk}/reward/", {"reward": reward})
        worker_page = Client()
        worker_page.force_login(worker)
        worker_page.post("/earnings/withdraw/", {"amount": reward})
        with pytest.raises(CommandError):
            call_command("deposit", requester.username, reward, stdout=io.StringIO())
    pool.refresh_from_db()
    assert pool.reward == Decimal("0.05")
    assert _written() == before


def test_the_deposit_command_takes_the_largest_amount_and_refuses_the_next(requester):
    out = io.StringIO()
    call_command("deposit", requester.username, "99999999.9999", stdout=out)
    assert "deposited 99999999.9999" in out.getvalue()
    before = _written()
    with pytest.raises(CommandError, match="at most"):
        call_command("deposit", requester.username, "100000000", stdout=io.StringIO())
    assert _written() == before


def test_withdrawals_at_the_largest_amount_are_read_but_must_be_earned(api, worker):
    before = _written()
    response = api(worker).post("/api/v1/me/withdrawals/", {"amount": "99999999.99"}, format="json")
    assert response.status_code == 402  # a real amount, not earned
    _refused(api(worker).post("/api/v1/me/withdrawals/", {"amount": "100000000.00"}, format="json"), "amount")
    assert _written() == before


def test_the_largest_reward_leaves_every_page_and_job_working(api, requester):
    """The probe's case: a reward at the column's limit on an open pool, read by every worker and every job."""
    _deposit(requester, INPUT_MAX * 8)
    client = api(requester)
    created = client.post(
        "/api/v1/pools/", _pool_body(reward="1.00", overlap=1, golden_rate=0), format="json"
    ).json()
    pool_id = created["id"]
    client.post(
        f"/api/v1/pools/{pool_id}/tasks/", {"tasks": [{"data": {"t": i}} for i in range(3)]}, format="json"
    )
    assert client.post(f"/api/v1/pools/{pool_id}/open/").status_code == 200
    refused = client.post(f"/api/v1/pools/{pool_id}/reward/", {"reward": "100000000"}, format="json")
    _refused(refused, "reward")
    raised = client.post(f"/api/v1/pools/{pool_id}/reward/", {"reward": "99999999.9999"}, format="json")
    assert raised.status_code == 200, raised.content
    assert raised.json()["reward"] == "99999999.9999"

    workers = WorkerFactory.create_batch(2)
    for worker in workers:
        assert api(worker).get("/api/v1/feed/").status_code == 200
        page = Client()
        page.force_login(worker)
        assert page.get("/feed/").status_code == 200
        assert page.get("/work/").status_code == 200
        claimed = api(worker).post("/api/v1/assignments/next/", {"pool": pool_id}, format="json")
        assert claimed.status_code == 200
        assignment_id = claimed.json()["id"]
        submitted = api(worker).post(
            f"/api/v1/assignments/{assignment_id}/submit/", {"label": "A"}, format="json"
        )
        assert submitted.status_code == 200, submitted.content
    # Answers that took 1 ms: the largest hourly pay the figures can be asked to hold.
    Answer.objects.filter(pool_id=pool_id).update(duration_ms=1)
    pool = Pool.objects.get(pk=pool_id)
    record = fairness_services.pool_pay_measure(pool=pool)
    assert record.effective_hourly_pay == INPUT_MAX * 3_600_000
    actors.pools_tidy()
    page = Client()
    page.force_login(requester)
    for path in ("/pools/", f"/pools/{pool_id}/", "/billing/", "/fair-pay/", "/me/data/", "/me/data/export/"):
        assert page.get(path).status_code == 200, path
    assert client.get("/api/v1/pools/").status_code == 200
    assert client.post(f"/api/v1/pools/{pool_id}/close/").status_code == 200
    assert Pool.objects.get(pk=pool_id).status == PoolStatus.CLOSED


# ----------------------------------------------------------------------------------- the other whole numbers


def test_care_daily_cap_at_its_edges(api, worker):
    client = api(worker)
    for value in (0, 1000):
        response = client.put("/api/v1/me/care/", {"categories": [], "daily_cap": value}, format="json")
        assert response.status_code == 200 and response.json()["daily_cap"] == value
    for refused in (-1, 1001, 2**31, 2**63, "٥", "5", 5.0, True):
        _refused(
            client.put("/api/v1/me/care/", {"categories": [], "daily_cap": refused}, format="json"),
            "daily_cap",
        )
    page = Client()
    page.force_login(worker)
    for typed in ("1001", "-1", "٥", "99999999999999999999999"):
        page.post("/care/", {"daily_cap": typed})
    assert client.get("/api/v1/me/care/").json()["daily_cap"] == 1000


def test_webhook_progress_step_at_its_edges(api, requester, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_FOR_TESTS = True
    client = api(requester)
    body: dict[str, Any] = {"url": "http://127.0.0.1:9/h", "events": ["pool.progress"]}
    for value in (1, 100):
        body["progress_step"] = value
        assert client.post("/api/v1/webhooks/", body, format="json").status_code == 201
    for refused in (0, 101, 2**15, 2**63, "٥", "5", 5.0, True):
        body["progress_step"] = refused
        _refused(client.post("/api/v1/webhooks/", body, format="json"), "progress_step")
    page = Client()
    page.force_login(requester)
    count = client.get("/api/v1/webhooks/").json()["results"]
    for typed in ("101", "٥", "1e1", "99999999999999999999999"):
        page.post(
            "/webhooks/", {"url": "http://127.0.0.1:9/h", "events": ["pool.progress"], "progress_step": typed}
        )
    assert client.get("/api/v1/webhooks/").json()["results"] == count


def test_priority_on_the_pool_list_at_its_edges(requester):
    pool = PoolFactory.create(requester=requester, priority=50)
    page = Client()
    page.force_login(requester)
    for value, kept in (("100", 100), ("0", 0), ("101", 0), ("٥", 0), ("-1", 0), (str(2**63), 0), ("1e1", 0)):
        page.post(f"/pools/{pool.pk}/priority/", {"priority": value})
        pool.refresh_from_db()
        assert pool.priority == kept, value


# ----------------------------------------------------------------------------------------- pages and ids


@pytest.mark.parametrize("path", ["/api/v1/pools/", "/api/v1/me/withdrawals/"])
def test_api_pages_at_their_edges(api, requester, worker, path):
    client = api(requester if "pools" in path else worker)
    last_page = BIGINT_MAX // 50
    for value in ("1", str(last_page)):
        response = client.get(path, {"page": value})
        assert response.status_code == 200, (value, response.content)
        if value != "1":
            assert response.json()["results"] == []
    for value in ("0", "-1", str(last_page + 1), "1000000000000000000", "٣", "1e3", " 1", "1.0"):
        response = client.get(path, {"page": value})
        assert response.status_code == 400, value
        assert response.json()["error"]["code"] == "invalid_page"


def test_html_pages_refuse_pages_beyond_any_offset(worker, staff):
    for user, path in ((worker, "/earnings/"), (staff, "/staff/quality/")):
        page = Client()
        page.force_login(user)
        assert page.get(path, {"page": "1"}).status_code == 200
        for value in ("1000000000000000000000", "٣", "0"):
            assert page.get(path, {"page": value}).status_code == 400, (path, value)


@pytest.mark.parametrize("odd", [str(BIGINT_MAX), str(2**63), str(2**64), "1" + "0" * 30, "٣"])
def test_assignment_ids_beyond_a_bigint_are_not_found(api, worker, odd):
    client = api(worker)
    for action in ("submit", "skip"):
        response = client.post(f"/api/v1/assignments/{odd}/{action}/", {"label": "OK"}, format="json")
        assert response.status_code == 404, (action, response.content)
        page = Client()
        page.force_login(worker)
        # The largest id is a real id the worker does not hold: the annotator moves on to the next task.
        expected = {302} if odd == str(BIGINT_MAX) else {404}
        assert page.post(f"/work/{odd}/{action}/", {"label": "OK"}).status_code in expected


def test_parse_id_takes_exactly_the_ids_a_row_can_have():
    assert parse_id("1") == 1 and parse_id(str(BIGINT_MAX)) == BIGINT_MAX and parse_id(7) == 7
    for odd in ("0", "-1", str(2**63), "٣", " 1", "1.0", "", True, 2**63, None, 1.0):
        assert parse_id(odd) is None, odd


def test_parse_whole_reads_only_ascii_digits():
    assert parse_whole("-12", field="n", low=-20, high=20) == -12
    for odd in LOOSE_WHOLE:
        with pytest.raises(ValueError, match="n must be a whole number from 0 to 9"):
            parse_whole(odd, field="n", low=0, high=9)


# ------------------------------------------------------------------------------- numbers JSON cannot hold


def test_task_data_with_a_number_json_cannot_represent_is_a_400(api, requester):
    pool = PoolFactory.create(requester=requester)
    client = api(requester)
    before = _written()
    body = '{"tasks": [{"data": {"t": 1e999}}]}'
    response = client.post(f"/api/v1/pools/{pool.pk}/tasks/", body, content_type="application/json")
    assert response.status_code == 400
    for name, content in (("tasks.jsonl", b'{"t": 1e999}\n'), ("tasks.json", b'[{"t": -1e999}]')):
        upload = io.BytesIO(content)
        upload.name = name
        response = client.post(f"/api/v1/pools/{pool.pk}/tasks/", {"file": upload}, format="multipart")
        assert response.status_code == 400, (name, response.content)
    assert _written() == before
