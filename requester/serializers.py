from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from fairlabel.fields import MoneyField, RealNumberField, WholeNumberField
from fairlabel.money import money_str
from fairlabel.timestamps import json_time
from fairness.selectors import pool_fairness
from fairness.serializers import pool_pay_json
from payouts.selectors import pool_reservations
from tasks.models import Acceptance, ContentWarning, Pool
from tasks.selectors import pool_progress


def _pool(name: str) -> Any:
    return Pool._meta.get_field(name)


class PoolCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    instructions = serializers.CharField(allow_blank=True, max_length=20000, default="")
    labels = serializers.ListField(child=serializers.CharField(max_length=200), min_length=2, max_length=50)
    reward = MoneyField()
    overlap = WholeNumberField(column=_pool("overlap"), min_value=1, max_value=100)
    priority = WholeNumberField(column=_pool("priority"), min_value=0, max_value=100, default=50)
    golden_rate = RealNumberField(min_value=0, max_value=0.5, default=0.1)
    assignment_ttl = WholeNumberField(
        column=_pool("assignment_ttl"), min_value=10, max_value=86400, default=600
    )
    # Quality: the golden-skill rule, the fast-answer flag, aggregation and dynamic overlap.
    min_skill = RealNumberField(min_value=0, max_value=1, default=0.7)
    min_golden = WholeNumberField(column=_pool("min_golden"), min_value=1, max_value=1000, default=5)
    min_seconds = RealNumberField(min_value=0, max_value=3600, allow_null=True, default=None)
    aggregation_method = serializers.ChoiceField(choices=["ds", "mv", "wawa"], default="ds")
    target_confidence = RealNumberField(min_value=0.5, max_value=1, allow_null=True, default=None)
    min_overlap = WholeNumberField(
        column=_pool("min_overlap"), min_value=1, max_value=100, allow_null=True, default=None
    )
    # Payment and worker care.
    acceptance = serializers.ChoiceField(choices=Acceptance.values, default=Acceptance.INSTANT)
    review_hours = WholeNumberField(column=_pool("review_hours"), min_value=1, max_value=72, default=24)
    content_warning = serializers.ChoiceField(choices=ContentWarning.values, allow_null=True, default=None)
    allow_html = serializers.BooleanField(
        default=False,
        help_text="Show task fields as sanitised HTML. Images in it load only from the hosts the platform's "
        "operator allows (and data: images); others are removed.",
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        from quality.services import pool_quality_settings_problem

        problem = pool_quality_settings_problem(
            overlap=data["overlap"],
            min_skill=data["min_skill"],
            min_golden=data["min_golden"],
            target_confidence=data["target_confidence"],
            min_overlap=data["min_overlap"],
        )
        if problem is not None:
            field, message = problem
            raise serializers.ValidationError({field: [message]})
        return data

    def validate_labels(self, labels: list[str]) -> list[str]:
        cleaned = [label.strip() for label in labels]
        if any(not label for label in cleaned):
            raise serializers.ValidationError("labels must be non-empty strings")
        if len(set(cleaned)) != len(cleaned):
            raise serializers.ValidationError("labels must be distinct")
        return cleaned


def pool_json(pool: Pool) -> dict[str, Any]:
    progress = pool_progress(pool=pool)
    money = pool_reservations(pool_ids=[pool.pk]).get(pool.pk)
    return {
        "id": pool.pk,
        "name": pool.name,
        "instructions": pool.instructions,
        "labels": pool.labels,
        "reward": money_str(pool.reward),
        "overlap": pool.overlap,
        "priority": pool.priority,
        "golden_rate": pool.golden_rate,
        "assignment_ttl": pool.assignment_ttl,
        "status": pool.status,
        "created_at": json_time(pool.created_at),
        "progress": {
            "tasks": progress.tasks,
            "golden": progress.golden,
            "completed": progress.completed,
            "answers": progress.answers,
        },
        "budget": {
            "reserved": money_str(money.held if money else Decimal(0)),
            "spent": money_str(money.spent if money else Decimal(0)),
        },
        # Quality settings.
        "min_skill": pool.min_skill,
        "min_golden": pool.min_golden,
        "min_seconds": pool.min_seconds,
        "aggregation_method": pool.aggregation_method,
        "target_confidence": pool.target_confidence,
        "min_overlap": pool.min_overlap,
        "acceptance": pool.acceptance,
        "review_hours": pool.review_hours,
        "content_warning": pool.content_warning,
        "allow_html": pool.allow_html,
        # Pay against the floor: effective_hourly_pay, below_floor, floor_reward.
        **pool_pay_json(pool_fairness(pool=pool)),
    }
