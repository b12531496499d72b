"""Task images load only from hosts the operator allows or from the page itself, however the URL is written."""

from __future__ import annotations

import pytest
from django.test import Client

from tasks.content import image_field_blocked, image_field_source, image_source, task_html_clean
from tests.factories import PoolFactory, TaskFactory, fund
from workflows import pools as pools_flow

PIXEL = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


@pytest.fixture(autouse=True)
def allowed_hosts(settings):
    settings.TASK_IMAGE_HOSTS = ["images.acme.example", "*.cdn.example"]


@pytest.mark.parametrize(
    "url",
    [
        "https://images.acme.example/cat.jpg",
        "http://images.acme.example:8080/a/b.png?size=2",
        "https://eu.cdn.example/x.webp",
        "https://IMAGES.ACME.EXAMPLE/cat.jpg",
        PIXEL,
    ],
)
def test_images_from_allowed_hosts_and_data_urls_load(url):
    assert image_source(url) == url.strip()


@pytest.mark.parametrize(
    "url",
    [
        "https://tracker.example/pixel.gif",  # any other host
        "https://cdn.example/x.png",  # "*.cdn.example" is the hosts under it, not the name itself
        "https://images.acme.example.tracker.example/x.png",  # a suffix of another name
        "//tracker.example/pixel.gif",  # scheme-relative: another origin
        "/\\tracker.example/pixel.gif",  # browsers read the backslash as a slash
        "https:\\\\tracker.example/pixel.gif",
        "https://images.acme.example@tracker.example/x.png",  # user name before the real host
        "https://images.acme.example%2f@tracker.example/x.png",
        "https://tracker\n.example/x.png",  # browsers drop line breaks anywhere
        " \t//tracker.example/x.png",
        "/media/x.png",  # relative: nothing of a requester's lives on this origin
        "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=",  # SVG may fetch what it names
        "data:text/html;base64,PGI+PC9iPg==",
        "javascript:alert(1)",
        "ftp://images.acme.example/cat.jpg",
    ],
)
def test_images_from_anywhere_else_are_not_loaded(url):
    assert image_source(url) is None


def test_an_image_field_is_shown_loaded_or_named_as_not_loaded():
    assert image_field_source("https://images.acme.example/cat.jpg") == "https://images.acme.example/cat.jpg"
    assert image_field_source("https://tracker.example/cat.jpg") is None
    assert image_field_blocked("https://tracker.example/cat.jpg")
    assert not image_field_blocked("https://tracker.example/page.html")  # not an image: plain text
    assert not image_field_blocked("A brass lamp") and image_field_source(42) is None


@pytest.mark.parametrize(
    "markup",
    [
        '<img src="https://tracker.example/p.gif">',
        '<img src="//tracker.example/p.gif">',
        '<img src="x" srcset="https://tracker.example/p.gif 2x">',
        '<picture><source srcset="https://tracker.example/p.gif"><img src="x"></picture>',
        '<div style="background: url(https://tracker.example/p.gif)">x</div>',
        '<a href="https://acme.example/" ping="https://tracker.example/p">link</a>',
        '<video poster="https://tracker.example/p.gif"></video>',
        '<input type="image" src="https://tracker.example/p.gif">',
        '<link rel="stylesheet" href="https://tracker.example/s.css">',
        '<svg><image href="https://tracker.example/p.gif"/></svg>',
        '<table background="https://tracker.example/p.gif"><tr><td>x</td></tr></table>',
        '<object data="https://tracker.example/p"></object><embed src="https://tracker.example/p">',
        '<iframe src="https://tracker.example/"></iframe><audio src="https://tracker.example/a.mp3"></audio>',
        "<style>@import url(https://tracker.example/s.css);</style>",
    ],
)
def test_html_fields_lose_every_way_of_fetching_from_another_host(markup):
    assert "tracker.example" not in task_html_clean(markup)


def test_html_fields_keep_what_the_requester_meant():
    cleaned = task_html_clean(
        f'<b>Lamp</b> <img src="https://images.acme.example/lamp.jpg" alt="lamp"> <img src="{PIXEL}" alt="dot">'
        ' <a href="https://acme.example/item/1">listing</a> <a href="data:text/html,x">bad</a>'
    )
    assert "<b>Lamp</b>" in cleaned
    assert 'src="https://images.acme.example/lamp.jpg"' in cleaned and f'src="{PIXEL}"' in cleaned
    assert 'href="https://acme.example/item/1"' in cleaned and "data:text/html" not in cleaned


def _annotator(worker, pool):
    client = Client()
    client.force_login(worker)
    return client.get(f"/work/?pool={pool.pk}")


@pytest.mark.django_db
def test_an_html_pool_loads_no_image_from_a_host_the_operator_did_not_allow(requester, worker):
    fund(requester, "20")
    pool = PoolFactory.create(requester=requester, allow_html=True)
    TaskFactory.create(
        pool=pool,
        data={
            "listing": '<p>Lamp</p><img src="https://tracker.example/p.gif?w=1" alt="tracked">'
            '<img src="https://images.acme.example/lamp.jpg" alt="lamp">'
        },
    )
    pools_flow.pool_open(pool=pool)
    page = _annotator(worker, pool).content.decode()
    assert "<p>Lamp</p>" in page and "tracker.example" not in page
    assert 'src="https://images.acme.example/lamp.jpg"' in page


@pytest.mark.django_db
def test_an_image_field_on_another_host_is_named_not_loaded(requester, worker):
    fund(requester, "20")
    pool = PoolFactory.create(requester=requester)
    TaskFactory.create(
        pool=pool,
        data={"photo": "https://tracker.example/lamp.jpg", "allowed": "https://images.acme.example/lamp.jpg"},
    )
    pools_flow.pool_open(pool=pool)
    response = _annotator(worker, pool)
    page = response.content.decode()
    assert 'src="https://tracker.example' not in page
    assert "https://tracker.example/lamp.jpg <span" in page and "image not loaded" in page
    assert '<img class="task-image" src="https://images.acme.example/lamp.jpg"' in page
    # The browser holds the same line: images from this page, data: URLs and the allowed hosts only.
    assert "img-src 'self' data: images.acme.example *.cdn.example" in response["Content-Security-Policy"]
