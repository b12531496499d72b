"""The pay-floor arithmetic, in one place: effective hourly pay, the reward that clears the floor, the top-up.

Effective hourly pay = reward x 3600 / median seconds per answer, where the median is taken over the pool's
most recent MEDIAN_WINDOW answers (every answer counts, golden and rejected ones too: the time was spent either
way). A recent window follows a pool whose tasks get easier or harder, and keeps the measurement one bounded
query however large the pool grows.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_UP, Decimal

from django.conf import settings

MEDIAN_WINDOW = 200
# A top-up counts each answer's time up to this multiple of the pool's median, so a task left open in a tab
# for an hour is not paid as an hour of work.
TOP_UP_TIME_CAP = 3
REWARD_QUANTUM = Decimal("0.0001")
HOURLY_QUANTUM = Decimal("0.01")
MS_PER_HOUR = Decimal(3_600_000)


def floor() -> Decimal:
    return Decimal(settings.MIN_HOURLY_PAY)


def min_answers() -> int:
    return int(settings.FLOOR_MIN_ANSWERS)


def median(values: list[int]) -> int | None:
    """The median of durations in ms (the mean of the middle two for an even count), at least 1 ms."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    value = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) // 2
    return max(1, value)


def hourly_pay(*, reward: Decimal, median_ms: int) -> Decimal:
    return (reward * MS_PER_HOUR / Decimal(median_ms)).quantize(HOURLY_QUANTUM, rounding=ROUND_HALF_UP)


def floor_reward(*, median_ms: int) -> Decimal:
    """The smallest reward (in steps of 0.0001) whose pay at this median reaches the floor."""
    return (floor() * Decimal(median_ms) / MS_PER_HOUR).quantize(REWARD_QUANTUM, rounding=ROUND_CEILING)


def is_below_floor(*, reward: Decimal, median_ms: int | None, answers: int) -> bool:
    """Below the floor: measured on enough answers, and the reward does not reach the floor at that median."""
    if median_ms is None or answers < min_answers():
        return False
    return reward < floor_reward(median_ms=median_ms)


def top_up_owed(*, capped_ms: int, rewards: Decimal) -> Decimal:
    """What brings a worker's pay for `capped_ms` of work, already paid `rewards`, up to the floor (never < 0)."""
    owed = floor() * Decimal(capped_ms) / MS_PER_HOUR - rewards
    return max(Decimal(0), owed.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP))


def pro_rata(*, owed: Decimal, available: Decimal, total_owed: Decimal) -> Decimal:
    """A worker's share when the reservation cannot pay everyone in full; rounded down so the sum fits."""
    if total_owed <= available:
        return owed
    return (owed * available / total_owed).quantize(Decimal("0.000001"), rounding=ROUND_DOWN)
