"""Small charts drawn on the server as inline SVG: no charting library, nothing fetched by the browser.

Every piece of text that reaches the SVG is escaped; the numbers are formatted by us. Each chart comes with
its values as text (a table or a sentence) for screen readers and for anyone who wants the figures. On a
phone a chart keeps a readable size and scrolls inside its box rather than shrinking its text.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

INK, MUTED, LINE, ACCENT, OK = "#1d2430", "#667085", "#e3e7ee", "#2856d8", "#137a3e"


def _svg(width: int, height: int, body: list[str], title: str, *, as_text: str = "") -> SafeString:
    # Safe: every piece of text inside was escaped by the functions below.
    svg = (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg" '
        f'font-family="system-ui, sans-serif" font-size="13">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )
    return mark_safe(f'<figure class="chart-figure"><div class="scroll-box">{svg}</div>{as_text}</figure>')


def _values_table(title: str, headers: tuple[str, str], rows: Sequence[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><td>{escape(label)}</td><td>{escape(value)}</td></tr>" for label, value in rows)
    return (
        '<details class="chart-values"><summary>The values as a table</summary>'
        f'<table class="table"><caption class="visually-hidden">{escape(title)}</caption><thead><tr><th scope="col">{escape(headers[0])}</th>'
        f'<th scope="col">{escape(headers[1])}</th></tr></thead><tbody>{cells}</tbody></table></details>'
    )


def _empty(width: int, height: int, title: str, message: str) -> SafeString:
    return _svg(
        width,
        height,
        [
            f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" fill="none" stroke="{LINE}"/>',
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="{MUTED}">{escape(message)}</text>',
        ],
        title,
    )


def line_chart(
    *,
    points: Sequence[tuple[float, int]],
    target: int,
    first_label: str,
    last_label: str,
    title: str,
    empty: str = "No answers yet",
    width: int = 520,
    height: int = 180,
) -> SafeString:
    """A rising line of (x share 0-1, value) points towards `target`, drawn as a dashed line."""
    if not points or not any(v for _, v in points):
        return _empty(width, height, title, empty)
    left, right, top, bottom = 44, 10, 14, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = max(target, max(v for _, v in points), 1)

    def xy(share: float, value: int) -> str:
        return f"{left + plot_w * share:.1f},{top + plot_h * (1 - value / top_value):.1f}"

    line = " ".join(xy(share, value) for share, value in points)
    last_x = left + plot_w * points[-1][0]
    area = f"{left},{top + plot_h} {line} {last_x:.1f},{top + plot_h}"
    target_y = top + plot_h * (1 - target / top_value)
    body = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="{LINE}"/>',
        f'<line x1="{left}" y1="{target_y:.1f}" x2="{width - right}" y2="{target_y:.1f}" stroke="{MUTED}" '
        f'stroke-dasharray="4 3"/>',
        f'<text x="{left - 4}" y="{target_y + 4:.1f}" text-anchor="end" fill="{MUTED}">{target:,}</text>',
        f'<text x="{left - 4}" y="{top + plot_h + 4}" text-anchor="end" fill="{MUTED}">0</text>',
        f'<polygon points="{area}" fill="{OK}" fill-opacity="0.12"/>',
        f'<polyline points="{line}" fill="none" stroke="{OK}" stroke-width="2"/>',
        f'<text x="{left}" y="{height - 6}" fill="{MUTED}">{escape(first_label)}</text>',
        f'<text x="{width - right}" y="{height - 6}" text-anchor="end" fill="{MUTED}">{escape(last_label)}</text>',
    ]
    described = (
        f'<p class="chart-text">{points[-1][1]:,} of the {target:,} answers collected between '
        f"{escape(first_label)} and {escape(last_label)}.</p>"
    )
    return _svg(width, height, body, title, as_text=described)


def bar_chart(
    *,
    values: Sequence[int],
    labels: Sequence[str],
    title: str,
    headers: tuple[str, str] = ("", "Count"),
    empty: str = "Nothing yet",
    width: int = 520,
    height: int = 180,
    label_every: int = 1,
) -> SafeString:
    """Vertical bars with a label under every `label_every`-th bar and the tallest value on the axis."""
    if not values or not any(values):
        return _empty(width, height, title, empty)
    left, right, top, bottom = 44, 10, 14, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = max(values)
    slot = plot_w / len(values)
    bar_w = max(1.0, slot * 0.8)
    body = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="{LINE}"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" fill="{MUTED}">{top_value:,}</text>',
        f'<text x="{left - 4}" y="{top + plot_h + 4}" text-anchor="end" fill="{MUTED}">0</text>',
    ]
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        h = plot_h * value / top_value
        x = left + i * slot + (slot - bar_w) / 2
        body.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
            f'fill="{ACCENT}" fill-opacity="0.8"><title>{escape(label)}: {value:,}</title></rect>'
        )
        if i % label_every == 0:
            body.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - 6}" text-anchor="middle" fill="{MUTED}">'
                f"{escape(label)}</text>"
            )
    rows = [(label, f"{value:,}") for value, label in zip(values, labels, strict=True)]
    return _svg(width, height, body, title, as_text=_values_table(title, headers, rows))


def hbar_chart(
    *, items: Sequence[tuple[str, int]], title: str, empty: str = "Nothing yet", width: int = 520
) -> SafeString:
    """Horizontal bars, one row per label, with its count and share."""
    total = sum(count for _, count in items)
    if not items or not total:
        return _empty(width, 80, title, empty)
    row_h, label_w, right = 24, 150, 90
    height = row_h * len(items) + 8
    plot_w = width - label_w - right
    top_value = max(count for _, count in items)
    body = []
    for i, (label, count) in enumerate(items):
        y = 4 + i * row_h
        w = plot_w * count / top_value if top_value else 0
        shown = label if len(label) <= 22 else label[:21] + "…"
        body.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" fill="{INK}">{escape(shown)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" fill="{ACCENT}" '
            f'fill-opacity="0.8"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" fill="{MUTED}">{count:,} ({100 * count / total:.0f}%)</text>'
        )
    rows = [(label, f"{count:,} ({100 * count / total:.0f}%)") for label, count in items]
    return _svg(width, height, body, title, as_text=_values_table(title, ("Label", "Answers"), rows))
