"""JSON shapes of the fairness API (contract v1, extended for fair work)."""

from __future__ import annotations

from typing import Any

from fairlabel.money import money_str
from fairlabel.timestamps import json_time
from fairness.models import Appeal, Decision
from fairness.selectors import PoolFairness
from tasks.models import Pool


def appeal_json(appeal: Appeal) -> dict[str, Any]:
    return {
        "id": appeal.pk,
        "message": appeal.message,
        "status": appeal.status,
        "created_at": json_time(appeal.created_at),
        "decided_at": json_time(appeal.decided_at),
        "response": appeal.response or None,
    }


def decision_json(decision: Decision) -> dict[str, Any]:
    appeal = getattr(decision, "appeal", None)
    return {
        "id": decision.pk,
        "kind": decision.kind,
        "pool_id": decision.pool_id,
        "answer_id": decision.answer_id,
        "reason": decision.reason,
        "figures": decision.figures,
        "by": "rule" if decision.created_by_id is None else "person",
        "created_at": json_time(decision.created_at),
        "reversed_at": json_time(decision.reversed_at),
        "appeal": appeal_json(appeal) if appeal is not None else None,
    }


def feed_pool_json(*, pool: Pool, fairness: PoolFairness, tasks_left: int) -> dict[str, Any]:
    return {
        "id": pool.pk,
        "name": pool.name,
        "requester": pool.requester.username,
        "reward": money_str(pool.reward),
        "effective_hourly_pay": money_str(fairness.effective_hourly_pay)
        if fairness.effective_hourly_pay is not None
        else None,
        "below_floor": fairness.below_floor,
        "requester_rating": fairness.rating.overall if fairness.rating is not None else None,
        "median_review_seconds": fairness.median_review_seconds,
        "acceptance": pool.acceptance,
        "content_warning": pool.content_warning or None,
        "tasks_left": tasks_left,
    }


def pool_pay_json(fairness: PoolFairness) -> dict[str, Any]:
    """The fields pool_json adds for requesters."""
    return {
        "effective_hourly_pay": money_str(fairness.effective_hourly_pay)
        if fairness.effective_hourly_pay is not None
        else None,
        "below_floor": fairness.below_floor,
        "floor_reward": money_str(fairness.floor_reward) if fairness.floor_reward is not None else None,
    }
