"""What tests/browser/test_accessibility.py needs besides its data: which pages there are (from the URL resolver),
axe-core, the phone checks run in the page, and failure messages a person can act on.

The pages are not a hand-kept list. Every URL pattern outside the API and the Django admin is filled in with
objects of the test's world and fetched with GET by each role through Django's test client; whatever answers
200 with an HTML document (not a download) is a page that role can open, and is checked. Every action URL is
POST-only (require_POST answers a GET with 405 and does nothing), so fetching them has no side effect. A new page
is checked the day it is added; a new path parameter fails the test until PARAMS in the test says how to fill it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
MIN_TARGET = 44  # CSS px: WCAG 2.5.5 Target Size (AAA), which the audit asked for
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
DESKTOP = {"viewport": {"width": 1280, "height": 860}}

# ------------------------------------------------------------------------------------------------- the pages


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name" inside a namespace
    namespace: str | None
    route: str
    params: tuple[str, ...]


def _walk(patterns: list[Any], prefix: str = "", namespace: str | None = None) -> Iterator[Route]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(n for n in (namespace, pattern.namespace) if n) or None
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = pattern.name or ""
            full = f"{namespace}:{name}" if namespace else name
            yield Route(
                full, namespace, prefix + str(pattern.pattern), tuple(pattern.pattern.regex.groupindex)
            )


def site_routes() -> list[Route]:
    """Every URL pattern a person's browser opens: not the API (nor its docs, under api/) and not the admin,
    which has its own accessibility record and is not ours to restyle."""
    return [
        r
        for r in _walk(get_resolver().url_patterns)
        if not r.route.startswith("api/") and r.namespace != "admin"
    ]


@dataclass(frozen=True)
class Page:
    role: str
    url_name: str
    variant: str  # which object fills the path ("open" pool, "done" pool), "" when there is one way
    path: str

    @property
    def name(self) -> str:
        """The page's name in messages and screenshot files: role, URL name, variant."""
        return "-".join(part for part in (self.role, self.url_name.replace(":", "-"), self.variant) if part)


@dataclass
class Census:
    pages: list[Page]
    # route name -> what each role's GET gave when it was not a page, e.g. "405", "302 /login/", "download"
    not_pages: dict[str, dict[str, str]]


Params = Mapping[str, Mapping[str, Callable[[], object]]]  # path parameter -> variant -> value


def _fillings(route: Route, params: Params) -> Iterator[tuple[str, dict[str, object]]]:
    missing = [p for p in route.params if p not in params]
    assert not missing, f"{route.name} ({route.route}): say how to fill {missing} in the test's PARAMS"
    choices = [[(variant, p, value) for variant, value in params[p].items()] for p in route.params]
    for combination in itertools.product(*choices):
        variant = "-".join(v for v, _, _ in combination if v)
        yield variant, {p: value() for _, p, value in combination}


def _outcome(response: Any) -> str | None:
    """None for an HTML page; otherwise a short note of what the GET gave."""
    code = response.status_code
    kind = response.get("Content-Type", "")
    if (
        code == 200
        and kind.startswith("text/html")
        and "attachment" not in response.get("Content-Disposition", "")
    ):
        return None
    if code == 200:
        return f"download ({kind.split(';')[0]})"
    if code in (301, 302, 303, 307, 308):
        return f"{code} to {response['Location'].split('?')[0]}"
    return str(code)


def census(users: Mapping[str, Any], params: Params) -> Census:
    """Fetch every site URL as every role (users: role -> user, None for the anonymous visitor).

    A page that the anonymous visitor can open (home, log in, sign up) is checked once, as that visitor: the
    signed-in header it would otherwise add is checked on every other page."""
    pages: list[Page] = []
    not_pages: dict[str, dict[str, str]] = {}
    errors: list[str] = []
    clients = {}
    for role, user in users.items():
        clients[role] = Client()
        if user is not None:
            clients[role].force_login(user)
    for route in site_routes():
        assert route.name, f"give the URL pattern {route.route!r} a name"
        for variant, kwargs in _fillings(route, params):
            path = reverse(route.name, kwargs=kwargs)
            seen: dict[str, str] = {}
            for role, client in clients.items():
                response = client.get(path)
                note = _outcome(response)
                if response.status_code >= 500:
                    errors.append(f"GET {path} as {role}: {response.status_code}")
                if note is None:
                    pages.append(Page(role, route.name, variant, path))
                    if users[role] is None:
                        break  # everyone's page: checked as the anonymous visitor only
                else:
                    seen[role] = note
            if seen and len(seen) == len(clients) and all(v == "404" for v in seen.values()):
                errors.append(
                    f"GET {path} is 404 for everyone: PARAMS fill {route.params} with the wrong objects"
                )
            if seen:
                not_pages[f"{route.name} {variant}".strip()] = seen
    assert not errors, "the page census failed:\n" + "\n".join(errors)
    return Census(pages, not_pages)


# ------------------------------------------------------------------------------------------------- axe-core


def axe_source() -> str:
    if not AXE.exists():
        raise AssertionError(f"{AXE} is missing: `make browser` installs it (npm ci --no-audit --no-fund)")
    return AXE.read_text(encoding="utf-8")


RUN_AXE = """
async (tags) => {
  const results = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  return results.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    targets: v.nodes.map((n) => n.target.map((t) => Array.isArray(t) ? t.join(" >>> ") : t).join(" >> ")),
  }));
}
"""


def axe_report(page_name: str, path: str, violations: list[dict[str, Any]], *, most: int = 15) -> str:
    lines = [f"{page_name} ({path}):"]
    for v in violations:
        shown = ", ".join(v["targets"][:most])
        more = f" (+{len(v['targets']) - most} more)" if len(v["targets"]) > most else ""
        lines.append(f"  {v['id']} [{v['impact']}] {v['help']}: {shown}{more}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ on a phone screen

# Which elements make the page scroll sideways: those sticking out of the viewport whose parent fits (the
# outermost culprit, not every cell of a wide table), leaving out what a scrolling or clipping box around them
# already contains, since that does not widen the page.
OVERFLOW = """
() => {
  const root = document.documentElement;
  const width = root.clientWidth;
  const name = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) return s + "#" + el.id;
    if (el.classList.length) s += "." + [...el.classList].slice(0, 3).join(".");
    const owner = el.parentElement && el.parentElement.closest("[id]");
    return owner && owner !== document.body ? `${s} in #${owner.id}` : s;
  };
  const out = (el) => {
    const r = el.getBoundingClientRect();
    return (r.width || r.height) && (r.right > width + 0.5 || r.left < -0.5);
  };
  const clipped = (el) => {
    for (let a = el.parentElement; a && a !== document.body && a !== root; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== "visible") return true;
    }
    return false;
  };
  const culprits = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (!out(el) || clipped(el)) continue;
    const parent = el.parentElement;
    if (parent && parent !== document.body && out(parent)) continue;
    const r = el.getBoundingClientRect();
    culprits.push(`${name(el)} (x ${Math.round(r.left)} to ${Math.round(r.right)})`);
  }
  return {scrollWidth: root.scrollWidth, width, culprits};
}
"""

# Pointer targets inside <main> smaller than 44 x 44 CSS px (WCAG 2.5.5).
#  * Radio buttons and checkboxes: their label is part of the target (a tap on it sets the box, and WCAG's
#    "target" is the region that accepts the pointer action), so a box inside its <label> is measured by the
#    label, and a box with a separate label[for] by the larger of the two regions.
#  * The inline exception of 2.5.5 ("the target is in a sentence or block of text"), kept narrow: only a link
#    (not a button, not a link styled as one with .btn) laid out inline, whose nearest non-inline ancestor is a
#    <p>, and whose paragraph has at least three words of its own besides links and buttons. A link alone on a
#    line, in a table cell, a list of links or a toolbar is a target like any other.
#  * Not counted: what is not rendered (display none, visibility hidden, closed <details>) and the 1 x 1 px
#    "visually hidden" pattern, which no one can point at.
TARGETS = """
(least) => {
  const main = document.querySelector("main");
  if (!main) return [{tag: "main", text: "the page has no <main>", width: 0, height: 0}];
  const selector = "a[href], button, input[type=submit], input[type=button], input[type=reset], " +
    "input[type=image], input[type=radio], input[type=checkbox], summary, select";
  const words = (text) => text.split(/[^\\p{L}\\p{N}]+/u).filter((w) => w.length > 1).length;
  const inSentence = (el) => {
    if (el.tagName !== "A" || el.classList.contains("btn")) return false;
    if (getComputedStyle(el).display !== "inline") return false;
    let block = el.parentElement;
    while (block && getComputedStyle(block).display === "inline") block = block.parentElement;
    if (!block || block.tagName !== "P") return false;
    const copy = block.cloneNode(true);
    copy.querySelectorAll("a, button, input, select").forEach((n) => n.remove());
    return words(copy.textContent) >= 3;
  };
  const box = (el) => {
    const r = el.getBoundingClientRect();
    return {width: r.width, height: r.height, via: ""};
  };
  const small = [];
  for (const el of main.querySelectorAll(selector)) {
    if (!el.checkVisibility({checkVisibilityCSS: true})) continue;
    const own = box(el);
    if (own.width <= 1 || own.height <= 1) continue;
    if (inSentence(el)) continue;
    let target = own;
    if (el.type === "radio" || el.type === "checkbox") {
      for (const label of el.labels || []) {
        if (!label.checkVisibility({checkVisibilityCSS: true})) continue;
        const around = box(label);
        around.via = label.contains(el) ? "its label" : "label[for]";
        if (label.contains(el) || around.width * around.height > target.width * target.height) target = around;
      }
    }
    if (target.width + 0.01 >= least && target.height + 0.01 >= least) continue;
    const type = el.tagName === "INPUT" ? `input[type=${el.type}]` : el.tagName.toLowerCase();
    const text = (el.innerText || el.value || el.getAttribute("aria-label") || el.name || "").trim();
    const owner = el.closest("[id]");
    small.push({
      tag: type,
      text: text.replace(/\\s+/g, " ").slice(0, 40) || (el.labels && el.labels[0] ? el.labels[0].innerText.trim() : ""),
      where: owner && owner !== main ? "#" + owner.id : "",
      width: Math.round(target.width),
      height: Math.round(target.height),
      via: target.via,
    });
  }
  return small;
}
"""


def overflow_report(result: dict[str, Any], *, most: int = 8) -> str:
    over = result["scrollWidth"] - result["width"]
    culprits = result["culprits"]
    shown = "; ".join(culprits[:most]) + (f"; +{len(culprits) - most} more" if len(culprits) > most else "")
    return (
        f"  scrolls sideways: scrollWidth {result['scrollWidth']} px, {over} px wider than the screen; "
        f"sticking out: {shown or 'nothing found outside a clipping box (a transform or a pseudo-element?)'}"
    )


def targets_report(small: list[dict[str, Any]]) -> str:
    lines = [f"  {len(small)} targets under {MIN_TARGET} x {MIN_TARGET} px:"]
    # The same control repeated (a button on every row) is one line, with how many there are.
    groups: dict[tuple[str, str, str, int, int, str], int] = {}
    for t in small:
        key = (t["tag"], t["text"], re.sub(r"\d+", "N", t["where"]), t["width"], t["height"], t["via"])
        groups[key] = groups.get(key, 0) + 1
    for (tag, text, where, width, height, via), count in groups.items():
        place = f" in {where}" if where else ""
        measured = f" (with {via})" if via else ""
        times = f" x{count}" if count > 1 else ""
        lines.append(f'    {tag} "{text}"{place}: {width} x {height}{measured}{times}')
    return "\n".join(lines)
