from __future__ import annotations

import contextlib
import json
from typing import Any

from django import forms
from django.conf import settings
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from fairlabel.money import MoneyError, parse_money
from quality.types import DEFAULT_TYPE, TYPES
from requester.serializers import PoolCreateSerializer
from tasks.models import Acceptance, ContentWarning


def _number(*, step: str = "1", **kwargs: Any) -> forms.CharField:
    """A number input whose text goes to the API's serializer as typed: one validation, with the API's bounds."""
    return forms.CharField(widget=forms.NumberInput(attrs={"step": step}), strip=False, **kwargs)


class PoolForm(forms.Form):
    """The HTML face of PoolCreateSerializer: the API's validation decides; this lays out the fields with names a
    requester knows and says the API's refusals in plain words."""

    name = forms.CharField(max_length=200, error_messages={"required": "Give the pool a name."})
    instructions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
        help_text="What workers read before they answer: what each label means, with examples.",
    )
    task_type = forms.ChoiceField(
        label="Kind of question",
        choices=[(t.name, f"{t.title}: {t.summary}") for t in TYPES.values()],
        initial=DEFAULT_TYPE,
        required=False,
        widget=forms.RadioSelect,
    )
    labels = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
        help_text="One label per line, up to 50; keys 1-9 pick the first nine. For one label or several labels "
        "the choices, for boxes the classes of objects; free text and comparisons take none.",
    )
    reward = forms.CharField(
        label=f"Reward per answer ({settings.PLATFORM_CURRENCY})",
        initial="0.03",
        strip=False,
        help_text="Paid for every answer, golden ones included, such as 0.03 or 0.025. The platform fee comes on top.",
        error_messages={"required": "Enter the reward for one answer."},
    )
    overlap = _number(
        label="Answers per task", initial=3, help_text="How many different workers answer each task (1-100)."
    )
    priority = _number(initial=50, help_text="0-100; pools with a higher priority are served first.")
    golden_rate = _number(
        label="Share of golden items",
        initial=0.1,
        step="0.01",
        help_text="Golden items have a known answer and measure each worker's quality: 0 to 0.5 of their stream.",
    )
    assignment_ttl = _number(
        label="Time to answer a task (seconds)",
        initial=600,
        help_text="How long a worker may hold a task before it goes back to the queue (10-86400).",
    )
    acceptance = forms.ChoiceField(
        label="Payment",
        required=False,
        choices=Acceptance.choices,
        initial=Acceptance.INSTANT,
        help_text="Instant: workers are paid the moment they submit. Review: you accept or reject within the window; "
        "whatever is still pending then is accepted automatically.",
    )
    review_hours = _number(
        label="Review window (hours)",
        required=False,
        initial=24,
        help_text="1-72 hours, for review mode.",
    )
    content_warning = forms.ChoiceField(
        choices=[("", "None"), *ContentWarning.choices],
        required=False,
        help_text="Disturbing content: only workers who opted in see the pool, and images are blurred until clicked.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Each task type's options, labelled by the type; the API's serializer checks them for the chosen type.
        for task_type in TYPES.values():
            defaults = task_type.options_clean({})
            for name in task_type.option_names:
                label, help_text = task_type.option_help.get(name, (name.replace("_", " ").capitalize(), ""))
                if isinstance(defaults.get(name), bool):
                    self.fields[name] = forms.BooleanField(label=label, help_text=help_text, required=False)
                else:
                    self.fields[name] = forms.CharField(
                        label=label, help_text=help_text, required=False, initial=defaults.get(name)
                    )

    def _options(self) -> dict[str, Any]:
        """The chosen type's options as the API takes them: numbers as numbers, ticked boxes as true."""
        task_type = TYPES.get(str(self.cleaned_data.get("task_type") or DEFAULT_TYPE), TYPES[DEFAULT_TYPE])
        options: dict[str, Any] = {}
        for name in task_type.option_names:
            value = self.cleaned_data.get(name)
            if isinstance(value, str):
                if not value.strip():
                    continue
                with contextlib.suppress(ValueError):  # else text, such as the name of the image field
                    value = json.loads(value)
            options[name] = value
        return options

    def clean_reward(self) -> str:
        # The same parser the API's field uses, here for its plain message; the serializer parses it again.
        reward = str(self.cleaned_data["reward"])
        try:
            parse_money(reward, field="reward")
        except MoneyError as exc:
            raise forms.ValidationError(exc.plain) from exc
        return reward

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # The API's checks run even when a field above failed, so one submit names every problem; a field that
        # already has an error keeps only that one.
        options = {name for task_type in TYPES.values() for name in task_type.option_names}
        data = {
            **{
                name: self.data.get(name) for name in self.fields if name in self.data and name not in options
            },
            **{name: value for name, value in cleaned.items() if name not in options},
            "labels": [line for line in str(cleaned.get("labels") or "").splitlines() if line.strip()],
            **self._options(),
            "task_type": cleaned.get("task_type") or DEFAULT_TYPE,
            "content_warning": cleaned.get("content_warning") or None,
            "acceptance": cleaned.get("acceptance") or Acceptance.INSTANT,
            "review_hours": cleaned.get("review_hours") or 24,
        }
        serializer = PoolCreateSerializer(data=data)
        if not serializer.is_valid():
            for field, errors in serializer.errors.items():
                if field in self.errors:
                    continue
                if field in self.fields:
                    self.add_error(field, [self._plain(field, error) for error in errors])
                else:
                    self.add_error(None, [str(error) for error in errors])
            return cleaned
        self.validated = dict(serializer.validated_data)
        return cleaned

    def _plain(self, field: str, error: ErrorDetail) -> str:
        """The API's message for a person: the field's label instead of its API name, and the list bounds in words."""
        if field == "labels" and error.code in ("min_length", "max_length"):
            bounds = PoolCreateSerializer().fields["labels"]
            assert isinstance(bounds, serializers.ListField)
            if error.code == "min_length":
                task_type = TYPES.get(
                    str(self.cleaned_data.get("task_type") or DEFAULT_TYPE), TYPES[DEFAULT_TYPE]
                )
                return f"Enter at least {task_type.min_labels} labels, one per line."
            return f"Enter at most {bounds.max_length} labels."
        message = str(error)
        if message.startswith(f"{field} "):
            message = f"{self.fields[field].label or field.capitalize()}{message[len(field) :]}"
        return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


class UploadForm(forms.Form):
    file = forms.FileField(
        label="Task file",
        help_text="A .csv file (a header row; the columns golden and external_id are special), .jsonl (one task per line) or .json (a list of tasks, or a Label Studio task export).",
    )
