from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import UserCreationForm

from accounts.models import Role, User

_REQUIRED = {
    "username": "Choose a username.",
    "password1": "Choose a password.",
    "password2": "Type the password again.",
}


class SignupForm(UserCreationForm):
    role = forms.ChoiceField(
        label="What brings you here?",
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].help_text = "Up to 150 letters, digits and @ . + - _."
        self.fields["password2"].label = "Password again"
        self.fields["password2"].help_text = "The same password, to catch a typing mistake."
        for name, message in _REQUIRED.items():
            self.fields[name].error_messages["required"] = message
