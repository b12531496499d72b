"""The annotators of the task types beyond one label, driven by their keyboard maps, at desktop and phone sizes."""

from __future__ import annotations

import struct
import zlib
from decimal import Decimal
from typing import Any

import pytest

from fairness.services import care_preferences_save
from quality.types import TYPES, pool_options
from tasks.models import Answer
from tests.browser.conftest import login
from tests.factories import PASSWORD, PoolFactory, TaskFactory, WorkerFactory, fund
from workflows.pools import pool_open

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A checkerboard of the colour and white (so a blur shows), served by the test: nothing leaves the machine."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    white, colour = b"\xff\xff\xff", bytes(rgb)
    rows = b"".join(
        b"\0" + b"".join(colour if (x // 40 + y // 40) % 2 else white for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


LONG = (
    "Handmade solid oak dining table, seats eight, oiled finish, minor scratch on one leg, collection only from "
    "the north side of town, no returns; see the photos for the grain and the colour in daylight."
)


def _pool(
    task_type: str,
    data: list[dict[str, Any]],
    *,
    labels: list[str] | None = None,
    content_warning: str | None = None,
    **options: Any,
):
    pool = PoolFactory(
        content_warning=content_warning,
        name=f"A {TYPES[task_type].title.lower()} pool",
        task_type=task_type,
        labels=labels or [],
        options=pool_options(task_type=TYPES[task_type], raw=options),
        reward=Decimal("0.05"),
        overlap=1,
        instructions="Answer as the listing's buyer would.",
    )
    for row in data:
        TaskFactory(pool=pool, data=row)
    fund(pool.requester, "10")
    return pool_open(pool=pool)


def _annotate(page: Any, pool: Any, ready: str, worker: Any = None):
    worker = worker or WorkerFactory()
    login(page, worker.username, PASSWORD)
    page.goto(f"/work/?pool={pool.pk}")
    page.wait_for_selector(ready)
    return worker


def _answers(worker: Any) -> list[str]:
    return list(Answer.objects.filter(worker=worker).order_by("pk").values_list("label", flat=True))


def _shown_task(page: Any) -> str:
    return page.inner_text("#task .card:nth-of-type(2)")


def _fits_the_width(page: Any) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def _saved(page: Any) -> None:
    page.wait_for_selector("#notice:has-text('Saved your answer')")


# ---------------------------------------------------------------------------------------------- multi_choice


@pytest.fixture
def listings():
    return _pool(
        "multi_choice",
        [{"title": "Oak table"}, {"title": "Replica watch"}],
        labels=["Adult", "Counterfeit", "Weapons"],
    )


def test_multi_choice_number_keys_tick_labels_and_enter_submits_them(page, shots, listings):
    worker = _annotate(page, listings, ".choice")
    boxes = page.locator(".choice input")
    page.keyboard.press("1")
    page.keyboard.press("3")
    page.keyboard.press("2")
    page.keyboard.press("3")  # a second press unticks
    assert [boxes.nth(i).is_checked() for i in range(3)] == [True, True, False]
    assert "Enter submits" in page.inner_text(".shortcut-hint")
    page.screenshot(path=shots / "multi_choice-desktop.png", full_page=True)
    page.keyboard.press("Enter")
    _saved(page)
    assert _answers(worker) == ['["Adult","Counterfeit"]']
    # The next task arrives with nothing ticked; no label ticked is an answer too.
    page.wait_for_selector(".choice")
    assert not any(boxes.nth(i).is_checked() for i in range(3))
    page.keyboard.press("Enter")
    page.wait_for_selector("text=No more tasks for you in this pool")
    assert _answers(worker) == ['["Adult","Counterfeit"]', "[]"]


def test_multi_choice_enter_on_the_focused_skip_button_skips(page, listings):
    worker = _annotate(page, listings, ".choice")
    page.keyboard.press("1")
    page.focus(".skip-btn")
    page.keyboard.press("Enter")
    page.wait_for_selector("#notice:has-text('Skipped')")
    assert _answers(worker) == []


def test_multi_choice_on_a_phone(new_page, shots, listings):
    page = new_page(viewport=PHONE, has_touch=True)
    worker = _annotate(page, listings, ".choice")
    page.tap(".choice[data-key='2']")
    assert page.is_checked(".choice[data-key='2'] input")
    assert _fits_the_width(page)
    page.screenshot(path=shots / "multi_choice-phone.png", full_page=True)
    page.tap(".submit-btn")
    _saved(page)
    assert _answers(worker) == ['["Counterfeit"]']


# ------------------------------------------------------------------------------------------------------ text


@pytest.fixture
def captions():
    return _pool(
        "text", [{"photo_caption": "A tabel made of oak"}, {"photo_caption": "Desk lamp"}], max_length=40
    )


def test_text_shift_enter_breaks_a_line_enter_submits_and_the_counter_counts_down(page, shots, captions):
    worker = _annotate(page, captions, "textarea[name=answer]")
    answer = page.locator("textarea[name=answer]")
    assert page.inner_text(".text-answer .counter") == "At most 40 characters."
    # Enter on an empty answer sends nothing and leaves no empty line behind.
    answer.focus()
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    assert _answers(worker) == [] and answer.input_value() == ""
    page.keyboard.type("A table made")
    # Enter that picks characters in an input method (Chinese, Japanese) sends nothing.
    answer.dispatch_event("keydown", {"key": "Enter", "isComposing": True, "bubbles": True})
    page.wait_for_timeout(300)
    assert _answers(worker) == []
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("of oak")
    assert answer.input_value() == "A table made\nof oak"
    assert page.inner_text(".text-answer .counter") == "21 characters left."
    page.screenshot(path=shots / "text-desktop.png", full_page=True)
    # A slow settle (a busy phone) stretched to two seconds: keys typed before it must still land.
    page.evaluate("htmx.config.defaultSettleDelay = 2000")
    page.keyboard.press("Enter")
    _saved(page)
    assert _answers(worker) == ["A table made\nof oak"]
    # The next task's answer is empty, and the worker types straight into it.
    page.wait_for_selector("#task:has-text('Desk lamp')")
    # Focus is in the new field the moment the task shows, not at the settle: no first key is lost.
    assert page.evaluate("document.activeElement.name") == "answer"
    assert answer.input_value() == ""
    assert page.inner_text(".text-answer .counter") == "At most 40 characters."
    page.keyboard.type("A desk lamp")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=No more tasks for you in this pool")
    assert _answers(worker)[1:] == ["A desk lamp"]


def test_text_an_answer_with_line_breaks_may_fill_the_whole_length(page, captions):
    worker = _annotate(page, captions, "textarea[name=answer]")
    # Four lines of 9 characters, 3 line breaks and "!": the 40 characters the field takes.
    page.fill("textarea[name=answer]", "\n".join(["nine char"] * 4) + "!")
    assert page.inner_text(".text-answer .counter") == "0 characters left."
    page.keyboard.press("Enter")
    _saved(page)
    assert len(_answers(worker)) == 1


def test_text_skip_needs_no_answer(page, captions):
    worker = _annotate(page, captions, "textarea[name=answer]")
    page.click(".skip-btn")
    page.wait_for_selector("#notice:has-text('Skipped')")
    page.wait_for_selector("#task:has-text('Desk lamp')")
    assert _answers(worker) == []


def test_text_on_a_phone(new_page, shots, captions):
    page = new_page(viewport=PHONE, has_touch=True)
    worker = _annotate(page, captions, "textarea[name=answer]")
    page.fill("textarea[name=answer]", "A table made of oak")
    assert _fits_the_width(page)
    page.screenshot(path=shots / "text-phone.png", full_page=True)
    page.fill("textarea[name=answer]", "")
    page.tap(".submit-btn")  # empty: the browser asks for text and nothing is sent
    page.wait_for_timeout(300)
    assert _answers(worker) == []
    page.fill("textarea[name=answer]", "A table made of oak")
    page.tap(".submit-btn")
    _saved(page)
    assert _answers(worker) == ["A table made of oak"]


# -------------------------------------------------------------------------------------------------- pairwise


def _pairs(**options: Any):
    return _pool(
        "pairwise",
        [
            {"query": "oak table", "left": LONG, "right": "Pine table, wobbly, 40 EUR"},
            {"query": "oak table", "left": "Oak desk", "right": "Oak table, new"},
            {"query": "oak table", "left": "Oak chair", "right": "Oak bench"},
        ],
        **options,
    )


def test_pairwise_shows_two_items_side_by_side_and_arrows_choose(page, shots):
    pool = _pairs(allow_tie=True)
    worker = _annotate(page, pool, ".pair-choice")
    left, right = (page.locator(f".pair [data-side='{side}']").bounding_box() for side in ("left", "right"))
    assert left["x"] + left["width"] <= right["x"] and left["y"] == right["y"]
    assert LONG in page.inner_text(".pair")
    assert _fits_the_width(page)
    # From the heading, Tab passes the instructions to the left item's button, with a visible focus ring; the
    # arrows still work from there.
    page.focus("h1#task-heading")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.side") == "left"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.screenshot(path=shots / "pairwise-desktop.png", full_page=True)
    page.keyboard.press("ArrowRight")
    _saved(page)
    page.wait_for_selector(".pair:has-text('Oak desk')")
    page.keyboard.press("ArrowLeft")
    page.wait_for_selector(".pair:has-text('Oak chair')")
    page.keyboard.press("t")
    page.wait_for_selector("text=No more tasks for you in this pool")
    assert _answers(worker) == ["right", "left", "tie"]


def test_pairwise_t_does_nothing_where_the_pool_allows_no_tie(page):
    pool = _pairs()
    worker = _annotate(page, pool, ".pair-choice")
    assert page.locator(".tie-btn").count() == 0
    assert "Equally" not in page.inner_text("#task")
    page.keyboard.press("t")
    page.wait_for_timeout(300)
    assert _answers(worker) == []
    page.keyboard.press("ArrowLeft")
    _saved(page)
    assert _answers(worker) == ["left"]


def test_pairwise_on_a_phone(new_page, shots):
    pool = _pairs(allow_tie=True)
    page = new_page(viewport=PHONE, has_touch=True)
    worker = _annotate(page, pool, ".pair-choice")
    assert _fits_the_width(page)
    page.screenshot(path=shots / "pairwise-phone.png", full_page=True)
    page.tap(".pair [data-side='left']")
    _saved(page)
    assert _answers(worker) == ["left"]


def test_pairwise_images_load_without_a_referrer_and_stay_blurred_under_a_content_warning(
    page, shots, settings
):
    settings.TASK_IMAGE_HOSTS = ["images.example.org"]
    referrers: list[str | None] = []

    def image(route: Any) -> None:
        referrers.append(route.request.headers.get("referer"))
        colour = (40, 90, 200) if route.request.url.endswith("a.png") else (230, 120, 30)
        route.fulfill(body=_png(480, 320, colour), content_type="image/png")

    page.route("https://images.example.org/**", image)
    pool = _pool(
        "pairwise",
        [{"left": "https://images.example.org/a.png", "right": "https://images.example.org/b.png"}],
        content_warning="violence",
    )
    worker = WorkerFactory()
    care_preferences_save(worker=worker, categories=["violence"], daily_cap=5)
    _annotate(page, pool, ".pair .reveal img", worker=worker)
    page.wait_for_function("() => [...document.querySelectorAll('.pair img')].every(img => img.complete)")
    assert referrers == [None, None]
    assert page.eval_on_selector_all(
        ".pair img", "imgs => imgs.map(img => getComputedStyle(img).filter)"
    ) == [
        "blur(24px)",
        "blur(24px)",
    ]
    page.screenshot(path=shots / "pairwise-images-blurred.png", full_page=True)
    # Showing an image is not an answer; the button below it is.
    page.click(".pair-item:first-child .reveal")
    page.wait_for_function("() => getComputedStyle(document.querySelector('.pair img')).filter === 'none'")
    assert _answers(worker) == []
    page.screenshot(path=shots / "pairwise-images-one-shown.png", full_page=True)
    page.click(".pair [data-side='right']")
    _saved(page)
    assert _answers(worker) == ["right"]


# ------------------------------------------------------------------------------------------- double submits


def _two_tasks(task_type: str):
    if task_type == "pairwise":
        return _pool(
            "pairwise", [{"left": "Oak desk", "right": "Pine desk"}, {"left": "Oak bed", "right": "Pine bed"}]
        )
    return _pool(task_type, [{"title": "Oak desk"}, {"title": "Oak bed"}], labels=["OK", "Restricted"])


ANSWER_KEY = {"single_choice": "1", "multi_choice": "Enter", "pairwise": "ArrowLeft"}
STAYED = "() => { window.stayedOnThePage = true; }"


def _second_task_shown(page: Any, worker: Any) -> None:
    first = Answer.objects.get(worker=worker).task.data
    second = "Oak bed" if "desk" in str(first) else "Oak desk"
    page.wait_for_selector(f"#task:has-text('{second}')")


@pytest.mark.parametrize("task_type", ["single_choice", "multi_choice", "pairwise"])
def test_keys_pressed_while_the_answer_is_on_its_way_send_nothing_more(page, task_type):
    pool = _two_tasks(task_type)
    worker = _annotate(page, pool, "form.answer-form")
    page.evaluate(STAYED)
    held: list[Any] = []
    page.route("**/work/*/submit/", lambda route: held.append(route))
    key = ANSWER_KEY[task_type]
    page.keyboard.press(key)
    page.wait_for_function("() => document.querySelector('#task').getAttribute('aria-busy') === 'true'")
    page.keyboard.press(key)
    page.keyboard.press(key)
    page.wait_for_timeout(300)
    assert len(held) == 1
    held[0].continue_()
    page.wait_for_function("() => document.querySelector('#task').getAttribute('aria-busy') !== 'true'")
    assert len(_answers(worker)) == 1
    _second_task_shown(page, worker)
    assert "already submitted" not in page.inner_text("main")
    assert page.evaluate("window.stayedOnThePage === true")


@pytest.mark.parametrize("task_type", ["single_choice", "pairwise"])
def test_a_key_pressed_twice_quickly_answers_the_first_task_once(page, task_type):
    pool = _two_tasks(task_type)
    worker = _annotate(page, pool, "form.answer-form")
    page.evaluate(STAYED)
    key = ANSWER_KEY[task_type]
    page.keyboard.press(key)
    page.keyboard.press(key)
    page.wait_for_function("() => document.querySelector('#task').getAttribute('aria-busy') !== 'true'")
    page.wait_for_timeout(500)
    first = Answer.objects.filter(worker=worker).order_by("pk").first()
    assert first is not None and Answer.objects.filter(task=first.task).count() == 1
    assert "already submitted" not in page.inner_text("main")
    assert page.evaluate("window.stayedOnThePage === true")
    # The next task (or the one after it, had the second press come after it settled) is on screen and answers.
    assert page.is_visible("form.answer-form") or page.is_visible("text=No more tasks for you in this pool")


def test_a_key_pressed_while_the_next_task_settles_answers_that_task_through_htmx(page):
    pool = _two_tasks("single_choice")
    worker = _annotate(page, pool, "form.answer-form")
    page.evaluate(STAYED)
    # The moment the next task is swapped in, before htmx has processed it: a worker pressing 2 right then.
    page.evaluate(
        """() => document.addEventListener("htmx:afterSwap", () => {
          if (window.pressed) return;
          window.pressed = true;
          document.body.dispatchEvent(new KeyboardEvent("keydown", { key: "2", bubbles: true }));
        })"""
    )
    page.keyboard.press("1")
    page.wait_for_selector("text=No more tasks for you in this pool")
    assert _answers(worker) == ["OK", "Restricted"]
    assert "already submitted" not in page.inner_text("main")
    assert page.evaluate("window.stayedOnThePage === true")
