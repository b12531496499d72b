"""The OpenAPI schema lists, for every operation, the error answers it can give and their codes.

Every operation documents the errors the framework gives any of them (429; 401 and 403 behind a permission; 400
and 415 where a body is read; 404 where the path names an object). A view adds its own in an `error_codes`
class attribute, {method: {status: (code, ...)}}, beside its permission classes. `declared_error_codes` is the
one definition: the schema is built from it, and the test suite fails any test whose API answer carries a
status and code its operation does not declare.
"""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework.permissions import AllowAny

ErrorCodes = dict[int, tuple[str, ...]]


def declared_error_codes(*, view: Any, method: str, path: str) -> dict[int, set[str]]:
    method = method.lower()
    codes: dict[int, set[str]] = {429: {"throttled"}}
    permissions = getattr(view, "permission_classes", [])
    if any(permission is not AllowAny for permission in permissions):
        codes[401] = {"not_authenticated"}
        codes[403] = {"permission_denied"}
    if method in ("post", "put", "patch"):
        codes.setdefault(400, set()).add("invalid_request")
        codes[415] = {"unsupported_media_type"}
    if "{" in path or "<" in path:
        codes[404] = {"not_found"}
    own: dict[str, ErrorCodes] = getattr(view, "error_codes", {})
    for status, names in own.get(method, {}).items():
        codes.setdefault(status, set()).update(names)
    return codes


def _error_schema(codes: set[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "details"],
                "properties": {
                    "code": {"type": "string", "enum": sorted(codes)},
                    "message": {"type": "string"},
                    "details": {"type": "object", "additionalProperties": True},
                },
            }
        },
    }


class ErrorListingSchema(AutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = dict(super()._get_response_bodies(direction))
        if direction != "response":
            return responses
        path = re.sub(r"\{[^}]+\}", "{id}", self.path)
        declared = declared_error_codes(view=self.view, method=self.method, path=path)
        for status, codes in sorted(declared.items()):
            responses.setdefault(
                str(status),
                {
                    "description": "Error codes: " + ", ".join(sorted(codes)) + ".",
                    "content": {"application/json": {"schema": _error_schema(codes)}},
                },
            )
        return responses
