from __future__ import annotations

from django import forms
from django.contrib.auth.forms import UserCreationForm

from accounts.models import Role, User


class SignupForm(UserCreationForm):
    role = forms.ChoiceField(
        choices=[
            (Role.WORKER, "I want to label data and earn money"),
            (Role.REQUESTER, "I want to get data labelled"),
        ],
        widget=forms.RadioSelect,
        initial=Role.WORKER,
    )

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email", "role")
