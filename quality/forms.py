from __future__ import annotations

from typing import Any

from django import forms

from quality.services import MAX_REASON
from tasks.models import Pool


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=MAX_REASON,
        help_text="The worker reads this. Say what you saw and the figures behind it.",
    )


class ImposeForm(ReasonForm):
    pool = forms.ModelChoiceField(queryset=Pool.objects.none(), empty_label=None)

    def __init__(self, *args: Any, pools: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        pool_field = self.fields["pool"]
        assert isinstance(pool_field, forms.ModelChoiceField)
        pool_field.queryset = pools
        self.order_fields(["pool", "reason"])
