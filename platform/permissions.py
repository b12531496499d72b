from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import User


def request_user(request: Request) -> User:
    """The authenticated platform user behind an API request (the permission classes ran first)."""
    user = request.user
    if not isinstance(user, User):
        raise TypeError("request_user() needs an authenticated request")
    return user


class IsWorker(BasePermission):
    message = "Only workers can do this."

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.role == "worker")


class IsRequester(BasePermission):
    message = "Only requesters can do this."

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.role == "requester")
