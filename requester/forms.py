from __future__ import annotations

from typing import Any

from django import forms

from requester.serializers import PoolCreateSerializer
from tasks.models import Acceptance, ContentWarning


def _number(*, step: str = "1", **kwargs: Any) -> forms.CharField:
    """A number input whose text goes to the API's serializer as typed: one validation, with the API's bounds."""
    return forms.CharField(widget=forms.NumberInput(attrs={"step": step}), strip=False, **kwargs)


class PoolForm(forms.Form):
    """The HTML face of PoolCreateSerializer: the API's validation decides, this only lays out the fields."""

    name = forms.CharField(max_length=200)
    instructions = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), required=False)
    labels = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="One label per line, 2 to 50 of them; keys 1-9 pick the first nine.",
    )
    reward = forms.CharField(
        initial="0.03",
        strip=False,
        help_text="Paid for every answer, golden ones included. The platform fee comes on top.",
    )
    overlap = _number(initial=3, help_text="Answers per task from different workers (1-100).")
    priority = _number(initial=50, help_text="0-100; higher pools are served first.")
    golden_rate = _number(
        initial=0.1,
        step="0.01",
        help_text="Share of golden (known-answer) items in each worker's stream, 0-0.5.",
    )
    assignment_ttl = _number(initial=600, help_text="Seconds a worker may hold a task (10-86400).")
    acceptance = forms.ChoiceField(
        required=False,
        choices=Acceptance.choices,
        initial=Acceptance.INSTANT,
        help_text="Instant: workers are paid the moment they submit. Review: you accept or reject within the window; "
        "whatever is still pending then is accepted automatically.",
    )
    review_hours = _number(
        required=False, initial=24, help_text="Review window in hours (1-72), for review mode."
    )
    content_warning = forms.ChoiceField(
        choices=[("", "None"), *ContentWarning.choices],
        required=False,
        help_text="Disturbing content: only workers who opted in see the pool, and images are blurred until clicked.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        data = {
            **cleaned,
            "labels": [line for line in cleaned["labels"].splitlines() if line.strip()],
            "content_warning": cleaned.get("content_warning") or None,
            "acceptance": cleaned.get("acceptance") or Acceptance.INSTANT,
            "review_hours": cleaned.get("review_hours") or 24,
        }
        serializer = PoolCreateSerializer(data=data)
        if not serializer.is_valid():
            for field, errors in serializer.errors.items():
                self.add_error(field if field in self.fields else None, [str(e) for e in errors])
            return cleaned
        self.validated = dict(serializer.validated_data)
        return cleaned


class UploadForm(forms.Form):
    file = forms.FileField(
        help_text="A .csv file (header row; columns golden and external_id are special) or .jsonl (one task per line)."
    )
