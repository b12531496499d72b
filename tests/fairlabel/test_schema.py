"""The schema lists every operation's error statuses with their codes, in the contract's error body."""

from __future__ import annotations

from typing import Any

import pytest

from fairlabel.schema import declared_error_codes
from requester.api import PoolListView, PoolOpenView

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client: Any) -> dict[str, Any]:
    import json

    return dict(
        json.loads(client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content)
    )


def _codes(response: dict[str, Any]) -> list[str]:
    body = response["content"]["application/json"]["schema"]
    return list(body["properties"]["error"]["properties"]["code"]["enum"])


def test_an_operation_lists_its_own_errors_beside_the_common_ones(schema: dict[str, Any]) -> None:
    opening = schema["paths"]["/api/v1/pools/{pool_id}/open/"]["post"]["responses"]
    assert _codes(opening["402"]) == ["insufficient_funds"]
    assert _codes(opening["409"]) == ["invalid_status"]
    assert _codes(opening["404"]) == ["not_found"]
    assert _codes(opening["401"]) == ["not_authenticated"]
    assert _codes(opening["429"]) == ["throttled"]
    assert "insufficient_funds" in opening["402"]["description"]


def test_every_error_response_of_every_operation_is_the_error_body(schema: dict[str, Any]) -> None:
    errors = 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            statuses = [s for s in operation["responses"] if s.isdigit() and int(s) >= 400]
            assert "429" in statuses, f"{method} {path}"
            for status in statuses:
                assert _codes(operation["responses"][status]), f"{method} {path} {status}"
                errors += 1
    assert errors > 100


def test_the_declaration_adds_what_each_kind_of_operation_can_meet() -> None:
    listing = declared_error_codes(view=PoolListView(), method="GET", path="pools/")
    assert listing == {
        429: {"throttled"},
        401: {"not_authenticated"},
        403: {"permission_denied"},
        400: {"invalid_page"},
    }
    opening = declared_error_codes(view=PoolOpenView(), method="POST", path="pools/<str:pool_id>/open/")
    assert opening[404] == {"not_found"} and opening[415] == {"unsupported_media_type"}
    assert opening[400] == {"invalid_request", "no_tasks"}
