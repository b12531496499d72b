"""Every page a role may open, with data in it: axe-core's WCAG 2.1 A and AA rules, and a 360 x 740 phone.

The pages come from the permission table (tests/security/matrix.py): each GET a role is let through that answers
with HTML is opened as that role, so a new page is checked as soon as it has a row there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from fairness.selectors import RATING_MIN_ANSWERS
from tests.factories import open_pool
from tests.security.matrix import OK, ROLES, World, all_routes, build_world, is_api, route_path, rows_for
from workflows import assignments as assignments_flow

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
WCAG21_A_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# The other worker and the other requester see the same pages as the worker and the owner.
VISITORS = [role for role in ROLES if role not in ("other_worker", "other_requester")]
# Third-party pages: the API reference is ReDoc's own page, the admin is Django's.
NOT_OURS = {"api-docs"}


@dataclass(frozen=True)
class Visit:
    role: str
    path: str
    name: str

    def __str__(self) -> str:
        return f"{self.path} as {self.role} ({self.name})"


def pages(world: World) -> list[Visit]:
    """Each (role, page) the table lets through, kept where the page answers with HTML (not a download)."""
    visits = []
    for route in all_routes():
        rows = rows_for(route) or {}
        if "GET" not in rows or route.namespace or route.name in NOT_OURS or is_api(route):
            continue
        path = route_path(route, world)
        for role in VISITORS:
            if rows["GET"].expected(role) != OK:
                continue
            response = _client(world, role).get(path)
            if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
                visits.append(Visit(role, path, route.name))
    return visits


def _client(world: World, role: str) -> Client:
    client = Client()
    if role in world.users:
        client.force_login(world.users[role])
    return client


def _open(new_page: Any, live_server: Any, world: World, visit: Visit, **options: Any) -> Any:
    page = new_page(**options)
    if visit.role in world.users:
        session = _client(world, visit.role).cookies[settings.SESSION_COOKIE_NAME].value
        page.context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
        )
    page.goto(visit.path)
    page.wait_for_load_state("networkidle")
    return page


@pytest.fixture
def world() -> World:
    """The permission table's objects, and enough work besides that pages show their data, not empty states: the
    worker has answered more than ten tasks of the owner's (so may rate them), with golden items among them."""
    built = build_world()
    worker, owner = built.users["worker"], built.users["owner"]
    pool = open_pool(requester=owner, tasks=14, golden=["OK", "Bad", "OK"], labels=("OK", "Bad", "Unsure"))
    for i in range(RATING_MIN_ANSWERS + 2):
        assignment = assignments_flow.assignment_next(worker=worker, pool_id=pool.pk)
        assert assignment is not None
        label = ("OK", "Bad", "Unsure")[i % 3]
        assignments_flow.assignment_submit(worker=worker, assignment_id=assignment.pk, answer=label)
    return built


# GET pages of ours that answer with a file, or send the visitor on to another page of the table.
DOWNLOADS = {"pool-download", "my-data-export"}
REDIRECTS = {"fair-quality"}


def test_the_census_reaches_every_page_in_the_table(world):
    """Every HTML page in the permission table is opened by the checks below, by each role that may see it; a
    page that failed to render (a redirect, an error) would be missing here."""
    expected = {
        route.name
        for route in all_routes()
        if "GET" in (rows_for(route) or {})
        and not route.namespace
        and not is_api(route)
        and route.name not in NOT_OURS | DOWNLOADS | REDIRECTS
    }
    visits = pages(world)

    assert {visit.name for visit in visits} == expected
    # With data in them: the worker may rate the requester they worked for.
    rating = _client(world, "worker").get("/ratings/").content.decode()
    assert 'name="pay"' in rating


def test_no_page_breaks_a_wcag_21_a_or_aa_rule(new_page, live_server, world, shots):
    axe = AXE.read_text()
    problems = []
    visits = pages(world)
    for visit in visits:
        page = _open(new_page, live_server, world, visit)
        # Evaluated through the driver: the pages' Content-Security-Policy allows no script tag of ours.
        page.evaluate(axe)
        result = page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
            WCAG21_A_AA,
        )
        page.screenshot(path=str(shots / f"wide-{visit.role}-{visit.name}.png"), full_page=True)
        for violation in result["violations"]:
            where = "; ".join(" ".join(node["target"]) for node in violation["nodes"][:4])
            problems.append(f"{visit}: {violation['id']} ({violation['help']}) at {where}")
        page.context.close()
    assert not problems, f"{len(problems)} problems on {len(visits)} pages:\n" + "\n".join(problems)


# A target is too small when either side is under 44 px. Links inside a sentence are exempt, as WCAG 2.5.8
# exempts inline targets: their size is the text's, and padding them would push the lines apart.
MEASURE = """() => {
  const problems = [];
  const width = document.documentElement.scrollWidth;
  if (width > window.innerWidth) {
    const wide = [...document.querySelectorAll('main *')].filter(e => {
      const r = e.getBoundingClientRect();
      return r.right > window.innerWidth + 1 && !e.closest('.scroll-box, .table-scroll');
    }).slice(0, 3).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + String(e.className).split(' ')[0] : ''));
    problems.push(`page is ${width}px wide: ${wide.join(', ')}`);
  }
  const inSentence = (e) => {
    if (getComputedStyle(e).display !== 'inline') return false;
    const block = e.parentElement.closest('p, li, td, th, dd, div, span, label, h1, h2, h3');
    if (!block) return false;
    return /[\\p{L}\\p{N}]/u.test(block.textContent.replace(e.textContent, ''));
  };
  for (const e of document.querySelectorAll('main a[href], main button, main summary, main select, main [role=button]')) {
    const r = e.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;  // hidden
    if ((r.width < 44 || r.height < 44) && !inSentence(e)) {
      const text = (e.textContent || e.getAttribute('aria-label') || '').trim().slice(0, 30);
      problems.push(`${e.tagName.toLowerCase()} "${text}" is ${Math.round(r.width)}x${Math.round(r.height)}`);
    }
  }
  return problems;
}"""


def test_every_page_fits_a_phone_and_its_targets_take_a_thumb(new_page, live_server, world, shots):
    problems = []
    visits = pages(world)
    for visit in visits:
        page = _open(
            new_page, live_server, world, visit, viewport={"width": 360, "height": 740}, has_touch=True
        )
        found = page.evaluate(MEASURE)
        page.screenshot(path=str(shots / f"phone-{visit.role}-{visit.name}.png"), full_page=True)
        problems += [f"{visit}: {p}" for p in found[:6]]
        page.context.close()
    assert not problems, f"{len(problems)} problems on {len(visits)} pages:\n" + "\n".join(problems)
