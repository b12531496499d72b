from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from rest_framework.authtoken.models import Token

from accounts.models import Role, User


@transaction.atomic
def account_create(
    *, username: str, password: str, role: str, email: str = "", validate: bool = True
) -> User:
    """Create a worker, requester or admin (Django staff) account with its API token."""
    if role not in Role.values:
        raise ValueError(f"role must be one of {', '.join(Role.values)}")
    if User.objects.filter(username__iexact=username).exists():
        raise ValueError(f"the username {username!r} is taken")
    user = User(username=username, email=email, role=role)
    if role == Role.ADMIN:
        user.is_staff = True
        user.is_superuser = True
    if validate:
        validate_password(password, user)
    user.set_password(password)
    user.save()
    Token.objects.create(user=user)
    return user


def token_regenerate(*, user: User) -> Token:
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user)


def token_for(*, user: User) -> Token:
    token, _ = Token.objects.get_or_create(user=user)
    return token
