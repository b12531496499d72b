"""The golden-skill rule and the sentences that explain it: pure functions, no database.

A worker's skill in a pool is their Laplace-smoothed golden accuracy (correct + 1) / (answered + 2), so
one lucky or unlucky answer does not decide anything and a newcomer starts at 0.5. The rule only judges a
worker once they have answered `min_golden` golden items; below that they are "still being scored".
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from quality.aggregation import skill_smoothed


@dataclass(frozen=True)
class SkillVerdict:
    answered: int
    correct: int
    skill: float
    min_skill: float
    min_golden: int

    @property
    def judged(self) -> bool:
        """Enough golden answers for the rule to apply."""
        return self.answered >= self.min_golden

    @property
    def restrict(self) -> bool:
        return self.judged and self.skill < self.min_skill

    @property
    def mistakes_to_restriction(self) -> int | None:
        """How many golden mistakes in a row from now would bring a restriction (None: none could)."""
        return mistakes_to_restriction(
            answered=self.answered, correct=self.correct, min_skill=self.min_skill, min_golden=self.min_golden
        )

    @property
    def golden_to_go(self) -> int:
        return max(0, self.min_golden - self.answered)


def skill_verdict(*, answered: int, correct: int, min_skill: float, min_golden: int) -> SkillVerdict:
    return SkillVerdict(
        answered=answered,
        correct=correct,
        skill=skill_smoothed(correct=correct, answered=answered),
        min_skill=min_skill,
        min_golden=min_golden,
    )


def skill_figures(verdict: SkillVerdict, *, counted_since: str | None) -> dict[str, Any]:
    """The numbers behind a restriction, stored with it (JSON) so the decision can be explained later."""
    return {
        "golden_answered": verdict.answered,
        "golden_correct": verdict.correct,
        "skill": round(verdict.skill, 4),
        "min_skill": verdict.min_skill,
        "min_golden": verdict.min_golden,
        "counted_since": counted_since,
    }


def skill_reason(verdict: SkillVerdict, *, counted_since: str | None) -> str:
    """One sentence a worker can check with a pencil."""
    since = f" since your restriction was lifted on {counted_since[:10]}" if counted_since else ""
    return (
        f"You answered {verdict.correct} of {verdict.answered} golden (known-answer) items correctly{since}. "
        f"Your skill, ({verdict.correct} + 1) / ({verdict.answered} + 2) = {verdict.skill:.2f}, is below this "
        f"pool's minimum of {verdict.min_skill:.2f}, which applies after {verdict.min_golden} golden items."
    )


def mistakes_to_restriction(*, answered: int, correct: int, min_skill: float, min_golden: int) -> int | None:
    """The smallest k >= 1 with answered + k >= min_golden and (correct + 1) / (answered + k + 2) < min_skill.

    The rule is checked after each golden answer, so at least one more (wrong) golden answer is needed.
    """
    threshold = Decimal(str(min_skill))
    if threshold <= 0:
        return None
    # (c + 1) < m (a + k + 2)  <=>  k > (c + 1) / m - a - 2
    bound = Decimal(correct + 1) / threshold - answered - 2
    k_skill = int(bound.to_integral_value(rounding="ROUND_FLOOR")) + 1
    return max(1, min_golden - answered, k_skill)
