"""What single-label pools have, per task type: skill and restrictions from golden answers, dynamic overlap at
submit, fast-answer flags, the pay floor, review-mode acceptance, and the staff quality pages' figures."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from payouts.selectors import balance_for_user
from quality.models import Restriction, TaskResult
from quality.selectors import answer_shown
from quality.services import pool_aggregate
from quality.types import TYPES
from quality.types.multi_choice.maths import label_vote_estimate
from tasks.models import Answer, AnswerStatus, Pool, Task, WorkerPoolStats
from tests.conftest import client_for
from tests.factories import RequesterFactory, StaffFactory, WorkerFactory, fund
from tests.quality.helpers import answer, golden_tasks, regular_tasks
from workflows.pools import pool_close

pytestmark = pytest.mark.django_db

# Per type: the pool's own settings, a task's data, a golden answer, an answer that scores as correct on it
# and one that does not.
TYPE_CASES: dict[str, dict[str, Any]] = {
    "single_choice": {
        "pool": {"labels": ["OK", "Bad"]},
        "data": lambda i: {"text": f"listing {i}"},
        "golden": "OK",
        "right": "OK",
        "wrong": "Bad",
    },
    "multi_choice": {
        "pool": {"labels": ["Adult", "Counterfeit", "Weapons"]},
        "data": lambda i: {"title": f"listing {i}"},
        "golden": ["Adult", "Counterfeit"],
        "right": ["Counterfeit", "Adult"],
        "wrong": ["Adult"],  # Jaccard 0.5, below the default share of 1.0
    },
    "text": {
        "pool": {"golden_similarity": 1.0},
        "data": lambda i: {"audio": f"clip {i}"},
        "golden": "Main Street 5",
        "right": "main street 5.",  # equal after normalising case and punctuation
        "wrong": "Elm Road 12",
    },
    "pairwise": {
        "pool": {},
        "data": lambda i: {"left": f"result {i}", "right": f"result {i + 1}"},
        "golden": "left",
        "right": "left",
        "wrong": "right",
    },
    "boxes": {
        "pool": {"labels": ["Car", "Person"]},
        "data": lambda i: {"image": f"https://img.example/{i}.jpg"},
        "golden": [{"label": "Car", "x": 0.1, "y": 0.1, "w": 0.3, "h": 0.3}],
        "right": [{"label": "Car", "x": 0.11, "y": 0.1, "w": 0.3, "h": 0.29}],
        "wrong": [{"label": "Person", "x": 0.6, "y": 0.6, "w": 0.2, "h": 0.2}],
    },
}
REGISTERED = sorted(TYPES)


def test_every_registered_type_has_a_case():
    assert set(REGISTERED) <= set(TYPE_CASES)


def open_typed_pool(
    task_type: str,
    *,
    tasks: int = 4,
    golden: int = 0,
    data: list[dict[str, Any]] | None = None,
    **settings: Any,
) -> Pool:
    """A pool of `task_type` made, filled and opened through the requester API, as a requester would."""
    case = TYPE_CASES[task_type]
    requester = client_for(RequesterFactory())
    body = {"name": f"A {task_type} pool", "reward": "0.05", "overlap": 1, "task_type": task_type}
    body.update(case["pool"])
    body.update(settings)
    created = requester.post("/api/v1/pools/", body, format="json")
    assert created.status_code == 201, created.content
    pool_id = created.json()["id"]
    rows = [{"data": row} for row in (data or [case["data"](i) for i in range(tasks)])]
    rows += [{"data": case["data"](100 + i), "golden": case["golden"]} for i in range(golden)]
    uploaded = requester.post(f"/api/v1/pools/{pool_id}/tasks/", {"tasks": rows}, format="json")
    assert uploaded.status_code == 201, uploaded.content
    pool = Pool.objects.get(pk=pool_id)
    fund(pool.requester, "50")
    assert requester.post(f"/api/v1/pools/{pool_id}/open/").status_code == 200
    pool.refresh_from_db()
    return pool


def places(task: Task) -> tuple[int, int, int]:
    task.refresh_from_db()
    return task.answers_count, task.remaining, task.max_answers


# --- skill and restrictions from golden answers ---------------------------------------------------------


@pytest.mark.parametrize("task_type", REGISTERED)
def test_golden_answers_score_skill_and_restrict_a_worker_who_misses_them(task_type):
    case = TYPE_CASES[task_type]
    pool = open_typed_pool(task_type, tasks=2, golden=6, golden_rate=0.5, min_golden=3, min_skill=0.6)
    careless, careful = WorkerFactory(), WorkerFactory()
    first, second = golden_tasks(pool)[:3], golden_tasks(pool)[3:]
    for task in first:
        answer(careless, task, case["wrong"])
    for task in second:
        answer(careful, task, case["right"])
    stats = {
        s.worker_id: (s.golden_answered, s.golden_correct) for s in WorkerPoolStats.objects.filter(pool=pool)
    }
    assert stats == {careless.pk: (3, 0), careful.pk: (3, 3)}
    restriction = Restriction.objects.get(pool=pool)
    assert restriction.worker_id == careless.pk
    assert (restriction.figures["golden_answered"], restriction.figures["golden_correct"]) == (3, 0)
    # The restricted worker is served nothing more from the pool; the careful one still is.
    assert client_for(careless).post("/api/v1/assignments/next/", {}, format="json").status_code == 204
    served = client_for(careful).post("/api/v1/assignments/next/", {}, format="json")
    assert served.status_code == 200 and served.json()["pool"]["id"] == pool.pk


# --- dynamic overlap at submit ---------------------------------------------------------------------------

# Per type: three answers that agree (in the type's sense) and three that do not.
AGREEING: dict[str, tuple[list[Any], list[Any]]] = {
    "multi_choice": ([["Adult"], ["Adult"], ["Adult"]], [["Adult"], ["Adult", "Weapons"], ["Adult"]]),
    "text": (["Main St 5", "main st. 5", "Main St 5"], ["Main St 5", "Main St 5", "Elm Road 12"]),
    "pairwise": (["left", "left", "left"], ["left", "right", "left"]),
    "boxes": (
        [[{"label": "Car", "x": 0.1 + d, "y": 0.1, "w": 0.3, "h": 0.3}] for d in (0.0, 0.01, 0.02)],
        [[{"label": "Car", "x": 0.1, "y": 0.1, "w": 0.3, "h": 0.3}], [], []],
    ),
}


@pytest.mark.parametrize("task_type", [t for t in REGISTERED if t != "single_choice"])
def test_a_task_stops_at_submit_once_its_answers_reach_the_target(task_type):
    agreeing, split = AGREEING[task_type]
    pool = open_typed_pool(task_type, tasks=3, overlap=5, target_confidence=0.9, min_overlap=3)
    unanimous, divided, untouched = regular_tasks(pool)
    workers = [WorkerFactory() for _ in range(3)]
    for n, (worker, given) in enumerate(zip(workers, agreeing, strict=True), start=1):
        answer(worker, unanimous, given)
        if n < 3:
            assert places(unanimous) == (n, 5 - n, 5)  # below min_overlap, whatever the agreement
    assert places(unanimous) == (3, 0, 3)  # the two places never bought are freed
    result = TaskResult.objects.get(task=unanimous)
    assert (result.confidence, result.answers) == (1.0, 3)
    for worker, given in zip(workers, split, strict=True):
        answer(worker, divided, given)
    assert places(divided) == (3, 2, 5)  # two of three agree: below 0.9, so it keeps its overlap
    estimated = TaskResult.objects.get(task=divided)
    assert estimated.confidence == pytest.approx(2 / 3)
    if task_type == "multi_choice":  # each label's vote share until the run puts its posterior in place
        assert estimated.label_confidence == {
            "Adult": 1.0,
            "Counterfeit": 0.0,
            "Weapons": pytest.approx(1 / 3),
        }
    else:
        assert estimated.label_confidence is None
    # A new worker is never served the stopped task; the next run agrees with the submit-time estimate.
    newcomer = client_for(WorkerFactory())
    served = newcomer.post("/api/v1/assignments/next/", {}, format="json").json()
    assert served["task"]["id"] in (divided.pk, untouched.pk)
    run = pool_aggregate(pool=pool)
    assert run.reopened_tasks == 0 and places(unanimous) == (3, 0, 3)
    if task_type != "multi_choice":
        # Their confidence reads only the task's own answers, so the run stores what the submit estimated.
        # (multi_choice's run is Dawid-Skene over the pool, which may well be surer of the split.)
        assert run.stopped_tasks == 0
        assert TaskResult.objects.get(task=divided).confidence == pytest.approx(2 / 3)


def test_several_labels_are_estimated_at_submit_by_each_labels_vote():
    ticked = np.array([[True, False, False], [True, False, True], [True, False, False]])
    chosen, confidence, share = label_vote_estimate(ticked=ticked)
    assert chosen.tolist() == [True, False, False]
    assert confidence == pytest.approx(1.0 * 1.0 * (2 / 3))
    assert share.tolist() == pytest.approx([1.0, 0.0, 1 / 3])
    tie, even, _ = label_vote_estimate(ticked=np.array([[True], [False]]))
    assert tie.tolist() == [True] and even == 0.5  # a tie counts as chosen, as in the type's aggregation


# --- fast-answer flags, the pay floor, review mode: type-blind code, checked once on a type other than one label


def test_fast_answers_are_flagged_in_a_text_pool():
    pool = open_typed_pool("text", tasks=2, min_seconds=3)
    quick, slow = regular_tasks(pool)
    assert answer(WorkerFactory(), quick, "Main St 5", seconds=1).flagged_fast
    assert not answer(WorkerFactory(), slow, "Main St 5", seconds=6).flagged_fast


def test_a_pairwise_pool_under_the_floor_tops_its_worker_up_at_close(settings):
    settings.MIN_HOURLY_PAY = Decimal("8.00")
    pool = open_typed_pool("pairwise", tasks=20, reward="0.01")
    worker = WorkerFactory()
    for task in regular_tasks(pool):
        answer(worker, task, "left", seconds=18)  # 0.01 per 18 s: 2.00 per hour
    Answer.objects.filter(pool=pool).update(duration_ms=18_000)  # the test's clock ran a few ms past 18 s
    before = balance_for_user(user=worker).available
    pool_close(pool=pool)
    # 20 answers x 18 s = 360 s; 8.00 x 360 / 3600 = 0.80 owed for the time, minus the 0.20 paid.
    assert balance_for_user(user=worker).available - before == Decimal("0.60")


def test_review_mode_holds_a_multi_choice_answer_until_the_requester_decides():
    pool = open_typed_pool("multi_choice", tasks=2, acceptance="review")
    requester = client_for(pool.requester)
    kept, refused = WorkerFactory(), WorkerFactory()
    for worker, given in ((kept, ["Adult"]), (refused, ["Weapons", "Adult"])):
        client = client_for(worker)
        assignment = client.post("/api/v1/assignments/next/", {}, format="json").json()
        submitted = client.post(
            f"/api/v1/assignments/{assignment['id']}/submit/", {"answer": given}, format="json"
        )
        assert submitted.status_code == 200, submitted.content
        assert submitted.json()["status"] == "pending"
        assert balance_for_user(user=worker).available == Decimal(0)
    good = Answer.objects.get(worker=kept)
    assert requester.post(f"/api/v1/answers/{good.pk}/accept/").json()["status"] == "accepted"
    assert balance_for_user(user=kept).available == Decimal("0.05")
    bad = Answer.objects.get(worker=refused)
    rejected = requester.post(
        f"/api/v1/answers/{bad.pk}/reject/", {"reason": "Nothing in it is a weapon."}, format="json"
    )
    assert rejected.json()["status"] == "rejected"
    assert balance_for_user(user=refused).available == Decimal(0)
    assert places(bad.task)[:2] == (0, 1)  # the place went back for someone else
    assert Answer.objects.get(pk=bad.pk).status == AnswerStatus.REJECTED


# --- the staff quality pages -------------------------------------------------------------------------------

# Per type: what the careless worker answers on the golden items (the careful one answers TYPE_CASES' right),
# and the pool's mean golden score with the page's name for it.
STAFF_CASES: dict[str, tuple[Any, str, str]] = {
    "single_choice": ("Bad", "share correct", "0.50"),
    "multi_choice": (["Adult"], "mean Jaccard similarity", "0.75"),  # (1 + 1/2) / 2
    "text": ("Main Street 6", "mean similarity", "0.96"),  # (1 + 12/13) / 2: one edit in 13 characters
    "pairwise": ("right", "agreement", "0.50"),
    "boxes": ([], "mean F1", "0.50"),
}


NONE = "\u2013"  # what the page shows for a share of nothing


def figure(page: str, name: str) -> str:
    found = re.search(rf"{re.escape(name)} <strong>([^<]*)</strong>", page)
    assert found, f"{name!r} is not on the page"
    return found.group(1)


def staff_pool_with_golden_answers(task_type: str) -> tuple[Pool, Any, Any]:
    case = TYPE_CASES[task_type]
    careless_answer = STAFF_CASES[task_type][0]
    pool = open_typed_pool(task_type, tasks=4, golden=2, overlap=2, golden_rate=0.3, min_seconds=2)
    careful, careless = WorkerFactory(username="careful"), WorkerFactory(username="careless")
    first, second = golden_tasks(pool)
    answer(careful, first, case["right"])
    answer(careless, second, careless_answer, seconds=1)  # and too fast
    for task in regular_tasks(pool):
        for worker in (careful, careless):
            answer(worker, task, case["right"])
    pool_aggregate(pool=pool)
    return pool, careful, careless


@pytest.mark.parametrize("task_type", REGISTERED)
def test_the_staff_pool_page_shows_golden_answers_scored_by_the_type(task_type):
    pool, _, _ = staff_pool_with_golden_answers(task_type)
    _, name, mean = STAFF_CASES[task_type]
    staff = client_for_staff()
    overview = staff.get("/staff/quality/")
    assert overview.status_code == 200 and pool.name in overview.content.decode()
    response = staff.get(f"/staff/quality/pools/{pool.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert TYPES[task_type].title in page
    assert (figure(page, "golden answers"), figure(page, "counted as correct")) == ("2", "1")
    assert figure(page, name) == mean
    assert '<span class="badge flag">1</span>' in page  # the careless worker's fast answer
    if task_type == "multi_choice":
        rows = re.findall(r'<th scope="row">(\w+)</th>((?:\s*<td class="num">[^<]*</td>){4})', page)
        cells = {label: re.findall(r">([^<]*)</td>", rest) for label, rest in rows}
        # Both golden answers ticked Adult; one missed Counterfeit; neither ticked Weapons, which never applies.
        assert cells == {
            "Adult": ["2", "100%", "100%", NONE],
            "Counterfeit": ["2", "50%", "50%", NONE],
            "Weapons": ["0", "100%", NONE, "0%"],
        }
    if task_type == "pairwise":
        ranking = page[page.index('id="ranking"') :]
        # Every regular pair went to its left item, so the head of the chain "result 0" > "result 1" > ... leads.
        assert re.search(r'<td class="num">1</td><td>result 0</td>', ranking)


@pytest.mark.parametrize("task_type", REGISTERED)
def test_the_staff_worker_page_shows_the_types_figures_in_place_of_a_matrix(task_type):
    pool, careful, careless = staff_pool_with_golden_answers(task_type)
    _, name, _ = STAFF_CASES[task_type]
    staff = client_for_staff()
    careful_page = staff.get(f"/staff/quality/workers/{careful.pk}/").content.decode()
    careless_page = staff.get(f"/staff/quality/workers/{careless.pk}/").content.decode()
    if task_type == "single_choice":
        assert f'id="confusion-{pool.pk}"' in careless_page and "heatmap" in careless_page
        return
    assert "heatmap" not in careless_page  # no empty matrix for a type that has none
    card = careless_page[careless_page.index(f'id="type-figures-{pool.pk}"') :]
    expected = {"multi_choice": "0.50", "text": "0.92", "pairwise": "0.00", "boxes": "0.00"}[task_type]
    assert figure(card, name) == expected
    assert figure(careful_page[careful_page.index(f'id="type-figures-{pool.pk}"') :], name) == "1.00"
    assert "agreement with the results <strong>" in card


def client_for_staff():
    from django.test import Client

    client = Client()
    client.force_login(StaffFactory())
    return client


def test_answers_are_shown_to_staff_in_words():
    assert answer_shown(["Adult", "Counterfeit"]) == "Adult, Counterfeit"
    assert answer_shown([]) == "(none)"
    boxes = [
        {"label": "Car", "x": 0.1, "y": 0.25, "w": 0.3, "h": 0.5},
        {"label": "Person", "x": 0, "y": 0, "w": 1, "h": 1},
    ]
    assert answer_shown(boxes) == "Car at 0.1, 0.25 size 0.3 by 0.5; Person at 0, 0 size 1 by 1"
    assert answer_shown("left") == "left"
