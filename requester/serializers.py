from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from fairlabel.fields import MoneyField, RealNumberField, WholeNumberField
from fairlabel.money import money_str
from fairlabel.timestamps import json_time
from fairness.selectors import pool_fairness
from fairness.serializers import pool_pay_json
from payouts.selectors import pool_reservations
from quality.types import DEFAULT_TYPE, TYPES
from quality.types.base import AnswerProblem
from tasks.models import Acceptance, ContentWarning, Pool
from tasks.selectors import pool_progress


def _pool(name: str) -> Any:
    return Pool._meta.get_field(name)


# Every task type's own options, each checked by its type (quality/types/<type>/shape.py) once the type is known.
_OPTION_NAMES = sorted({name for task_type in TYPES.values() for name in task_type.option_names})


class PoolCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    instructions = serializers.CharField(allow_blank=True, max_length=20000, default="")
    task_type = serializers.ChoiceField(
        choices=list(TYPES),
        default=DEFAULT_TYPE,
        help_text="; ".join(f"{t.name}: {t.summary}" for t in TYPES.values()),
    )
    # Required where the type has choices (single_choice, multi_choice) or classes (boxes); see validate().
    labels = serializers.ListField(child=serializers.CharField(max_length=200), max_length=50, required=False)
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
    aggregation_method = serializers.ChoiceField(choices=["ds", "mv", "wawa", "auto"], default="ds")
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

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for name in _OPTION_NAMES:
            owners = ", ".join(t.name for t in TYPES.values() if name in t.option_names)
            fields[name] = serializers.JSONField(required=False, help_text=f"Taken by: {owners}.")
        return fields

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        from quality.services import pool_quality_settings_problem

        task_type = TYPES[data["task_type"]]
        # Every problem of the type's settings at once, so one answer names them all.
        errors: dict[str, list[Any]] = {}
        raw_options = {name: data.pop(name) for name in _OPTION_NAMES if name in data}
        for name in sorted(set(raw_options) - set(task_type.option_names)):
            errors[name] = [f"{task_type.name} pools do not take {name}."]
        try:
            data["options"] = task_type.options_clean(
                {k: v for k, v in raw_options.items() if k in task_type.option_names}
            )
        except AnswerProblem as exc:
            field = next((name for name in raw_options if name in str(exc)), "non_field_errors")
            errors[field] = [str(exc)]
        labels = data.get("labels")
        if task_type.needs_labels:
            if "labels" not in data:
                errors["labels"] = ["This field is required."]
            elif len(labels or []) < task_type.min_labels:
                message = f"Ensure this field has at least {task_type.min_labels} elements."
                errors["labels"] = [ErrorDetail(message, code="min_length")]
        elif labels:
            errors["labels"] = [f"{task_type.name} pools take no labels."]
        else:
            data["labels"] = []
        if errors:
            raise serializers.ValidationError(errors)
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
        "task_type": pool.task_type,
        "labels": pool.labels,
        **pool.options,
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
