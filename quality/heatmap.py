"""Colours for a confusion matrix drawn as an HTML table: pure functions, no database.

Each cell gets CSS classes rather than an inline colour, so the page needs no inline styles (its Content-Security-
Policy allows only the platform's own style sheets): a hue (agreement or confusion) and one of eleven tint steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Agreement (the diagonal) in the platform's green, confusion in its red (static/quality/quality.css): a glance
# shows where a worker goes wrong. Tints in tenths: finer steps are not told apart on a screen.
TINT_STEPS = 10


@dataclass(frozen=True)
class HeatCell:
    value: float  # p(given label | true label)
    hue: str  # "agree" on the diagonal, "confuse" elsewhere
    step: int  # 0 (a faint tint, so the grid stays readable) .. TINT_STEPS (solid)

    @property
    def css_class(self) -> str:
        return f"heat-{self.hue} heat-{self.step}"

    @property
    def percent(self) -> str:
        return f"{self.value * 100:.0f}%"


@dataclass(frozen=True)
class HeatRow:
    label: str  # the true label
    cells: list[HeatCell]


def heat_cell(*, value: float, diagonal: bool) -> HeatCell:
    share = min(1.0, max(0.0, value))
    return HeatCell(value=share, hue="agree" if diagonal else "confuse", step=round(share * TINT_STEPS))


def heat_rows(*, labels: Sequence[str], matrix: Sequence[Sequence[float]]) -> list[HeatRow]:
    """One row per true label; each cell is the share of that row's answers given as the column's label."""
    if len(matrix) != len(labels) or any(len(row) != len(labels) for row in matrix):
        raise ValueError(f"a {len(labels)}x{len(labels)} matrix is needed for {len(labels)} labels")
    return [
        HeatRow(
            label=label,
            cells=[heat_cell(value=float(v), diagonal=i == j) for j, v in enumerate(row)],
        )
        for i, (label, row) in enumerate(zip(labels, matrix, strict=True))
    ]
