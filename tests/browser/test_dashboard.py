"""The requester dashboard in a real browser: progress bars move while simulated workers answer."""

from __future__ import annotations

import random
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection

from tasks import services
from tasks.models import PoolStatus
from tests.browser.conftest import login
from tests.factories import PASSWORD, PoolFactory, RequesterFactory, TaskFactory, WorkerFactory, fund
from workflows import assignments as assignments_flow
from workflows import pools as pools_flow

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LABELS = ["OK", "Restricted", "Prohibited"]


def simulated_workers(
    pool_id: int, workers: list, stop: threading.Event, pause: float = 0.25
) -> threading.Thread:
    """Workers answering one task after another (a third of them careless), until told to stop or out of work."""

    def run() -> None:
        rng = random.Random(7)
        try:
            while not stop.is_set():
                busy = False
                for worker in workers:
                    assignment = assignments_flow.assignment_next(worker=worker, pool_id=pool_id)
                    if assignment is None:
                        continue
                    busy = True
                    good = assignment.task.golden_label or LABELS[assignment.task_id % 2]
                    label = good if rng.random() < 0.8 else rng.choice(LABELS)
                    assignments_flow.assignment_submit(
                        worker=worker, assignment_id=assignment.pk, answer=label
                    )
                    time.sleep(pause)
                if not busy:
                    return
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def progress_of(page, pool_id: int) -> int:
    return int(page.get_attribute(f"#pool-{pool_id} [role=progressbar]", "aria-valuenow"))


def test_dashboard_progress_moves_while_workers_answer(page, shots):
    requester = RequesterFactory(username="acme-ml")
    requester.set_password(PASSWORD)
    requester.save()
    fund(requester, "500")
    pool = PoolFactory(
        requester=requester,
        name="Marketplace listings",
        labels=LABELS,
        reward=Decimal("0.05"),
        overlap=2,
        golden_rate=0.2,
        instructions="Is this listing allowed on the marketplace?",
    )
    for i in range(60):
        TaskFactory(
            pool=pool, data={"title": f"Listing {i}", "price": f"{10 + i}.00 EUR"}, external_id=f"L-{i}"
        )
    for i, label in enumerate(["OK", "Prohibited", "Restricted", "OK"]):
        TaskFactory(pool=pool, golden_label=label, data={"title": f"Known listing {i}"})
    pools_flow.pool_open(pool=pool)
    for name, status in [("Street signs", None), ("Toxic comments", "paused"), ("Receipts", "draft")]:
        other = PoolFactory(requester=requester, name=name, labels=LABELS, reward=Decimal("0.02"), overlap=1)
        TaskFactory.create_batch(12, pool=other)
        if status != "draft":
            pools_flow.pool_open(pool=other)
        if status == "paused":
            services.pool_pause(pool=other)
    workers = [WorkerFactory() for _ in range(4)]

    login(page, requester.username, PASSWORD)
    page.goto("/pools/")
    assert progress_of(page, pool.pk) == 0
    stop = threading.Event()
    thread = simulated_workers(pool.pk, workers, stop)
    try:
        # htmx refreshes the rows every 5 s: the bar moves without a reload.
        page.wait_for_function(
            f"() => Number(document.querySelector('#pool-{pool.pk} [role=progressbar]').getAttribute('aria-valuenow')) > 0",
            timeout=20_000,
        )
        first = progress_of(page, pool.pk)
        page.wait_for_function(
            f"() => Number(document.querySelector('#pool-{pool.pk} [role=progressbar]').getAttribute('aria-valuenow')) > {first}",
            timeout=20_000,
        )
        assert progress_of(page, pool.pk) > first
        assert page.evaluate("performance.getEntriesByType('navigation').length") == 1, "no reload"
        page.screenshot(path=shots / "dashboard-1-live.png", full_page=True)

        page.select_option("#pool-status", "paused")
        page.wait_for_selector(f"#pool-{pool.pk}", state="detached")
        assert page.locator("#pool-rows tr").count() == 1 and "Toxic comments" in page.inner_text(
            "#pool-rows"
        )
        page.select_option("#pool-status", "")
        page.fill("#pool-search", "market")
        page.wait_for_function("() => document.querySelectorAll('#pool-rows tr').length === 1")
        page.fill(f"#pool-{pool.pk} input.priority", "80")
        page.press(f"#pool-{pool.pk} input.priority", "Tab")
        page.wait_for_function(
            f"() => document.querySelector('#pool-{pool.pk} input.priority').value === '80'"
        )
        time.sleep(0.5)

        page.goto(f"/pools/{pool.pk}/")
        before = int(page.get_attribute("#pool-progress-bar", "aria-valuenow"))
        page.wait_for_function(
            f"() => Number(document.querySelector('#pool-progress-bar').getAttribute('aria-valuenow')) > {before}",
            timeout=20_000,
        )
    finally:
        stop.set()
        thread.join(timeout=30)
    page.reload()
    page.wait_for_selector("#pool-charts svg")
    page.screenshot(path=shots / "dashboard-2-pool-page.png", full_page=True)
    assert page.locator("#pool-charts svg").count() == 4
    pool.refresh_from_db()
    assert pool.priority == 80 and pool.status == PoolStatus.OPEN


def test_webhook_page_lists_deliveries_with_their_response_codes(page, shots):
    from integrations.models import DeliveryStatus, Webhook, WebhookDelivery

    requester = RequesterFactory(username="acme-hooks")
    requester.set_password(PASSWORD)
    requester.save()
    webhook = Webhook.objects.create(
        requester=requester,
        url="https://hooks.acme.example/fairlabel",
        events=["pool.progress", "pool.completed", "import.finished"],
        progress_step=25,
    )
    for key, event, status, code, attempts, error in [
        ("a", "pool.progress", DeliveryStatus.SUCCEEDED, 200, 1, ""),
        ("b", "import.finished", DeliveryStatus.PENDING, 503, 2, "HTTP 503"),
        (
            "c",
            "pool.completed",
            DeliveryStatus.FAILED,
            None,
            1,
            "Refused: resolves to 10.0.0.8, a private address",
        ),
    ]:
        WebhookDelivery.objects.create(
            webhook=webhook,
            event=event,
            event_key=key,
            body="{}",
            status=status,
            response_code=code,
            attempts=attempts,
            error=error,
        )
    login(page, requester.username, PASSWORD)
    page.goto(f"/webhooks/{webhook.pk}/")
    assert "503" in page.inner_text("#deliveries") and "private address" in page.inner_text("#deliveries")
    page.screenshot(path=shots / "dashboard-3-webhook.png", full_page=True)
    page.goto("/webhooks/")
    page.fill("#id_url", "http://169.254.169.254/latest/meta-data/")
    page.check("text=pool.completed: a pool has every answer it needs")
    page.click("text=Add webhook")
    page.wait_for_selector(".messages .error")
    assert "metadata" in page.inner_text(".messages")
    page.screenshot(path=shots / "dashboard-4-webhook-refused.png", full_page=True)
