"""The boxes annotator: drawing with a mouse and with a finger, the keyboard map, the list, and the blur."""

from __future__ import annotations

import json
import struct
import zlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from fairness.services import care_preferences_save
from quality.types import TYPES, pool_options
from tasks.models import Answer
from tests.browser.conftest import login
from tests.factories import PASSWORD, PoolFactory, TaskFactory, WorkerFactory, fund
from workflows.pools import pool_open

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOST = "images.example.org"
PHONE = {"width": 390, "height": 844}
AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
LABELS = ["Car", "Person", "Bicycle"]


def _png(width: int, height: int) -> bytes:
    """A street-ish picture (sky, road, one dark block to box), made here so no image leaves the machine."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = []
    for y in range(height):
        row = (bytes((150, 190, 230)) if y < height * 0.55 else bytes((90, 90, 95))) * width  # sky, road
        if height * 0.3 <= y < height * 0.7:  # the object, from 20% to 50% across
            start, end = int(width * 0.2), int(width * 0.5)
            row = row[: start * 3] + bytes((200, 60, 40)) * (end - start) + row[end * 3 :]
        rows.append(b"\x00" + row)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


PICTURE = _png(600, 400)


@pytest.fixture
def images(settings: Any) -> list[str | None]:
    """Task images come from an allowed host the browser never reaches: each request is answered here, and the
    Referer it carried is kept."""
    settings.TASK_IMAGE_HOSTS = [HOST]
    return []


def _serve_images(page: Any, referrers: list[str | None]) -> None:
    def image(route: Any) -> None:
        referrers.append(route.request.headers.get("referer"))
        route.fulfill(body=PICTURE, content_type="image/png")

    page.route(f"https://{HOST}/**", image)


def _pool(tasks: int, content_warning: str | None = None):
    pool = PoolFactory(
        name="Street scenes",
        task_type="boxes",
        labels=LABELS,
        options=pool_options(task_type=TYPES["boxes"], raw={}),
        reward=Decimal("0.05"),
        overlap=1,
        instructions="Draw a box around each vehicle and person.",
        content_warning=content_warning,
    )
    for n in range(tasks):
        TaskFactory(pool=pool, data={"caption": f"Street {n}", "image": f"https://{HOST}/street-{n}.png"})
    fund(pool.requester, "10")
    return pool_open(pool=pool)


def _annotate(page: Any, pool: Any, worker: Any = None) -> Any:
    worker = worker or WorkerFactory()
    login(page, worker.username, PASSWORD)
    page.goto(f"/work/?pool={pool.pk}")
    _image_ready(page)
    return worker


def _image_ready(page: Any) -> None:
    page.wait_for_function("() => document.querySelector('.boxes-image')?.naturalWidth > 0")


def _answers(worker: Any) -> list[Any]:
    labels = Answer.objects.filter(worker=worker).order_by("pk").values_list("label", flat=True)
    return [json.loads(label) for label in labels]


def _at(page: Any, fx: float, fy: float) -> tuple[float, float]:
    """The page point at a fraction of the image's width and height."""
    box = page.locator(".boxes-image").bounding_box()
    return box["x"] + fx * box["width"], box["y"] + fy * box["height"]


def _drag(page: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*_at(page, *start))
    page.mouse.down()
    page.mouse.move(*_at(page, *end), steps=8)
    page.mouse.up()


def _listed(page: Any) -> list[str]:
    return page.locator(".box-pick").all_inner_texts()


def _selected(page: Any) -> list[str]:
    return page.locator(".box-pick[aria-pressed=true]").all_inner_texts()


def _near(box: dict[str, Any], expected: dict[str, Any]) -> bool:
    return box["label"] == expected["label"] and all(
        abs(box[key] - expected[key]) < 0.006 for key in ("x", "y", "w", "h")
    )


def _saved(page: Any) -> None:
    page.wait_for_selector("#notice:has-text('Saved your answer')")


def test_drag_draws_keys_label_nudge_and_delete_and_enter_submits(page, shots, images):
    _serve_images(page, images)
    pool = _pool(2)
    worker = _annotate(page, pool)
    assert images == [None]  # loaded without telling the host which page asked
    assert "Drag draw a box" in page.inner_text(".shortcut-hint")
    # The image is shown only here, not again in the task's data.
    assert page.locator(".task-data img").count() == 0 and "Street 0" in page.inner_text(".task-data")
    assert page.inner_text(".boxes-empty").startswith("None yet")

    _drag(page, (0.2, 0.3), (0.5, 0.7))
    assert _listed(page) == ["Box 1: Car"] and _selected(page) == ["Box 1: Car"]
    page.keyboard.press("2")
    assert _listed(page) == ["Box 1: Person"]
    assert page.get_attribute(".box-label[aria-pressed=true]", "data-label") == "Person"
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowDown")
    # The box on the image moved with it: 1% right, 10% down.
    shape = page.locator(".box-shape").bounding_box()
    left, top = _at(page, 0.21, 0.4)
    assert abs(shape["x"] - left) < 3 and abs(shape["y"] - top) < 3

    # A second box gets the label chosen last; a click selects a box, Delete removes the selected one.
    _drag(page, (0.9, 0.45), (0.6, 0.1))
    assert _listed(page) == ["Box 1: Person", "Box 2: Person"] and _selected(page) == ["Box 2: Person"]
    page.mouse.click(*_at(page, 0.3, 0.6))
    assert _selected(page) == ["Box 1: Person"]
    page.mouse.click(*_at(page, 0.75, 0.3))
    assert _selected(page) == ["Box 2: Person"]
    page.keyboard.press("1")
    assert _listed(page) == ["Box 1: Person", "Box 2: Car"]
    page.screenshot(path=shots / "boxes-desktop.png", full_page=True)
    page.evaluate(AXE.read_text())  # through the driver: the page's policy allows no script of ours
    result = page.evaluate(
        "() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
    )
    assert [violation["id"] for violation in result["violations"]] == []
    page.keyboard.press("Delete")
    assert _listed(page) == ["Box 1: Person"] and page.locator(".box-shape").count() == 1

    page.keyboard.press("Enter")
    _saved(page)
    [answer] = _answers(worker)
    assert len(answer) == 1
    assert _near(answer[0], {"label": "Person", "x": 0.21, "y": 0.4, "w": 0.3, "h": 0.4}), answer

    # The next task starts with no boxes; Enter with none drawn answers that there is nothing to box.
    page.wait_for_selector(".task-data:has-text('Street 1')")
    _image_ready(page)
    assert _listed(page) == [] and page.locator(".box-shape").count() == 0
    page.keyboard.press("Enter")
    page.wait_for_selector("text=No more tasks for you in this pool")
    assert _answers(worker)[1] == []


def test_the_arrows_keep_a_box_inside_the_image_and_the_list_removes_boxes(page, images):
    _serve_images(page, images)
    worker = _annotate(page, _pool(1))
    _drag(page, (0.05, 0.8), (0.25, 0.95))
    for _ in range(3):
        page.keyboard.press("Shift+ArrowLeft")
        page.keyboard.press("Shift+ArrowDown")
    _drag(page, (0.5, 0.5), (0.6, 0.6))
    page.click("button[aria-label='Remove box 2 (Car)']")
    assert _listed(page) == ["Box 1: Car"]
    # The focus moved to the remaining box's button, and keys still reach the annotator from there.
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Remove box 1 (Car)"
    page.keyboard.press("3")
    assert _listed(page) == ["Box 1: Car"]  # nothing selected: the label is for the next box
    page.click(".box-pick")
    page.keyboard.press("3")
    assert _listed(page) == ["Box 1: Bicycle"]
    page.click(".submit-btn")
    _saved(page)
    [[box]] = _answers(worker)
    assert _near(box, {"label": "Bicycle", "x": 0.0, "y": 0.85, "w": 0.2, "h": 0.15}), box
    assert box["x"] >= 0 and box["y"] + box["h"] <= 1


def _touch_drag(page: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A finger's drag as the touchscreen sends it, so the browser decides on its own whether it scrolls."""
    cdp = page.context.new_cdp_session(page)
    (x0, y0), (x1, y1) = _at(page, *start), _at(page, *end)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x0, "y": y0}]})
    for step in range(1, 11):
        point = {"x": x0 + (x1 - x0) * step / 10, "y": y0 + (y1 - y0) * step / 10}
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()
    # A finger lifts and moves on: Chromium takes a tap that lands within its double-tap time (300 ms) of the
    # drag as part of one gesture and clicks nothing.
    page.wait_for_timeout(350)


def test_a_finger_draws_a_box_on_a_phone(new_page, shots, images):
    page = new_page(viewport=PHONE, has_touch=True, is_mobile=True)
    _serve_images(page, images)
    worker = _annotate(page, _pool(1))
    page.locator(".boxes-stage").scroll_into_view_if_needed()
    scrolled = page.evaluate("window.scrollY")
    _touch_drag(page, (0.2, 0.3), (0.5, 0.7))
    assert _listed(page) == ["Box 1: Car"]
    assert page.evaluate("window.scrollY") == scrolled  # the drag drew; it did not scroll the page
    page.tap(".box-label[data-label=Bicycle]")
    assert _listed(page) == ["Box 1: Bicycle"]
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    stage = page.locator(".boxes-stage").bounding_box()
    assert stage["width"] <= PHONE["width"] and stage["height"] < PHONE["height"] * 0.7
    page.screenshot(path=shots / "boxes-phone.png", full_page=True)
    page.tap(".submit-btn")
    _saved(page)
    [[box]] = _answers(worker)
    assert _near(box, {"label": "Bicycle", "x": 0.2, "y": 0.3, "w": 0.3, "h": 0.4}), box


def test_under_a_content_warning_the_image_is_blurred_and_draws_nothing_until_shown(page, shots, images):
    _serve_images(page, images)
    pool = _pool(1, content_warning="violence")
    worker = WorkerFactory()
    care_preferences_save(worker=worker, categories=["violence"], daily_cap=5)
    _annotate(page, pool, worker=worker)
    assert page.eval_on_selector(".boxes-image", "img => getComputedStyle(img).filter") == "blur(24px)"
    page.screenshot(path=shots / "boxes-blurred.png", full_page=True)
    # The first press on the image shows it, and draws nothing.
    _drag(page, (0.2, 0.3), (0.5, 0.7))
    page.wait_for_function("() => getComputedStyle(document.querySelector('.boxes-image')).filter === 'none'")
    assert _listed(page) == []
    _drag(page, (0.2, 0.3), (0.5, 0.7))
    assert _listed(page) == ["Box 1: Car"]
    page.keyboard.press("Enter")
    _saved(page)
    [[box]] = _answers(worker)
    assert _near(box, {"label": "Car", "x": 0.2, "y": 0.3, "w": 0.3, "h": 0.4}), box


def test_an_image_from_a_host_the_platform_does_not_load_is_named_and_only_skipping_is_offered(
    page, settings
):
    settings.TASK_IMAGE_HOSTS = []
    pool = _pool(1)
    worker = WorkerFactory()
    login(page, worker.username, PASSWORD)
    page.goto(f"/work/?pool={pool.pk}")
    message = page.inner_text(".boxes-missing")
    assert f"https://{HOST}/street-0.png" in message and "only from the hosts its operator allows" in message
    assert page.locator(".boxes-image, .submit-btn").count() == 0
    page.keyboard.press("Enter")
    page.keyboard.press("s")
    page.wait_for_selector("#notice:has-text('Skipped')")
    assert _answers(worker) == []
