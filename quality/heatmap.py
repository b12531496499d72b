"""Colours for a confusion matrix drawn as an HTML table: pure functions, no database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Agreement (the diagonal) in the platform's green, confusion in its red: a glance shows where a worker goes wrong.
_DIAGONAL = (19, 122, 62)
_OFF_DIAGONAL = (180, 35, 24)


@dataclass(frozen=True)
class HeatCell:
    value: float  # p(given label | true label)
    background: str
    foreground: str

    @property
    def percent(self) -> str:
        return f"{self.value * 100:.0f}%"


@dataclass(frozen=True)
class HeatRow:
    label: str  # the true label
    cells: list[HeatCell]


def heat_cell(*, value: float, diagonal: bool) -> HeatCell:
    share = min(1.0, max(0.0, value))
    alpha = 0.06 + 0.94 * share  # a faint tint even at 0, so the grid stays readable
    red, green, blue = _DIAGONAL if diagonal else _OFF_DIAGONAL
    return HeatCell(
        value=share,
        background=f"rgba({red}, {green}, {blue}, {alpha:.2f})",
        foreground="#fff" if alpha > 0.55 else "#1d2430",
    )


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
