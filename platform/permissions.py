from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission


class IsWorker(BasePermission):
    message = "Only workers can do this."

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.role == "worker")


class IsRequester(BasePermission):
    message = "Only requesters can do this."

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.role == "requester")
