from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from payouts.selectors import balance_for_user
from tasks.models import Answer
from tests.factories import PoolFactory, RequesterFactory, TaskFactory, WorkerFactory, fund, open_pool
from workflows.pools import pool_open

pytestmark = pytest.mark.django_db
LAMP = {"title": "<script>alert(1)</script>Lamp"}


def browser_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_signup_as_worker_lands_on_the_feed():
    client = Client()
    response = client.post(
        "/signup/",
        {
            "username": "newbie",
            "email": "",
            "role": "worker",
            "password1": "a-Long-pass-42",
            "password2": "a-Long-pass-42",
        },
    )
    assert response.status_code == 302
    assert client.get("/", follow=True).request["PATH_INFO"] == "/feed/"


def test_signup_refuses_a_weak_password():
    response = Client().post(
        "/signup/", {"username": "newbie", "role": "worker", "password1": "123", "password2": "123"}
    )
    assert response.status_code == 200 and b"too short" in response.content


def test_feed_lists_open_pools_with_tasks_left():
    pool = open_pool(reward="0.05", task_data=LAMP)
    PoolFactory(name="Draft pool")
    page = browser_for(WorkerFactory()).get("/feed/").content.decode()
    assert pool.name in page and "Draft pool" not in page
    assert "0.05" in page


def test_annotator_shows_task_as_text_and_submit_returns_the_next_task():
    pool = open_pool(reward="0.05", task_data=LAMP)
    worker = WorkerFactory()
    client = browser_for(worker)
    page = client.get(f"/work/?pool={pool.pk}").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;Lamp" in page and "<script>alert(1)" not in page
    assert "<kbd>1</kbd>OK" in page
    first = Answer.objects.count()
    assignment_id = pool.assignments.get(worker=worker).pk
    fragment = client.post(
        f"/work/{assignment_id}/submit/", {"label": "Bad", "pool": pool.pk}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert Answer.objects.count() == first + 1
    assert 'id="task"' in fragment and "Saved “Bad”. +0.05 USD earned." in fragment
    assert 'hx-swap-oob="true"' in fragment and "0.05" in fragment  # the balance in the header updates
    next_id = pool.assignments.filter(worker=worker, status="active").get().pk
    assert f"/work/{next_id}/submit/" in fragment
    assert balance_for_user(user=worker).available == Decimal("0.05")


def test_annotator_works_without_javascript():
    pool = open_pool(reward="0.05", task_data=LAMP)
    worker = WorkerFactory()
    client = browser_for(worker)
    client.get("/work/")
    assignment_id = pool.assignments.get(worker=worker).pk
    response = client.post(f"/work/{assignment_id}/submit/", {"label": "OK"})
    assert response.status_code == 302 and response["Location"] == "/work/"


def test_golden_tasks_look_like_any_other_in_the_annotator():
    pool = PoolFactory(reward=Decimal("0.05"), labels=["OK", "Bad"], golden_rate=0.5)
    TaskFactory(pool=pool)
    TaskFactory(pool=pool, golden_label="Bad")
    fund(pool.requester, "10")
    pool_open(pool=pool)
    worker = WorkerFactory()
    client = browser_for(worker)
    pages = [client.get("/work/").content.decode()]
    assignment = pool.assignments.get(worker=worker)
    pages.append(
        client.post(
            f"/work/{assignment.pk}/submit/", {"label": "OK"}, HTTP_HX_REQUEST="true"
        ).content.decode()
    )
    assert any(pool.assignments.filter(is_golden=True, worker=worker))
    for page in pages:
        assert "golden" not in page.lower()


def test_roles_are_kept_apart():
    worker, requester = WorkerFactory(), RequesterFactory()
    assert browser_for(requester).get("/work/").status_code == 403
    assert browser_for(worker).get("/pools/").status_code == 403
    assert Client().get("/feed/").status_code == 302
    other = PoolFactory()
    assert browser_for(requester).get(f"/pools/{other.pk}/").status_code == 404


@pytest.mark.django_db
def test_a_logged_in_person_opening_log_in_or_sign_up_is_sent_on():
    client = Client()
    client.force_login(WorkerFactory.create())

    for path in ("/login/", "/signup/"):
        response = client.get(path, follow=True)
        assert response.redirect_chain, path
        assert response.request["PATH_INFO"] == "/feed/"
