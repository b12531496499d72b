import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.authtoken.models import Token

from accounts.models import User

pytestmark = pytest.mark.django_db


def test_create_account_prints_the_token_last(capsys):
    call_command("create_account", "alice", "--role", "requester", "--password", "a-long-enough-pass")
    lines = capsys.readouterr().out.strip().splitlines()
    user = User.objects.get(username="alice")
    assert lines[-1] == Token.objects.get(user=user).key
    assert user.role == "requester" and user.check_password("a-long-enough-pass")


def test_admin_role_is_staff(capsys):
    call_command("create_account", "root", "--role", "admin", "--password", "a-long-enough-pass")
    assert User.objects.get(username="root").is_staff


def test_weak_password_and_taken_name_are_refused():
    with pytest.raises(CommandError, match="too short"):
        call_command("create_account", "bob", "--role", "worker", "--password", "x")
    call_command("create_account", "bob", "--role", "worker", "--password", "a-long-enough-pass")
    with pytest.raises(CommandError, match="taken"):
        call_command("create_account", "BOB", "--role", "worker", "--password", "a-long-enough-pass")
