"""Quality settings through POST /api/v1/pools/: accepted, validated with the field named, shown in the pool."""

from __future__ import annotations

import pytest

from tasks.models import Pool

pytestmark = pytest.mark.django_db

POOL = {"name": "Listings", "labels": ["OK", "Prohibited"], "reward": "0.025", "overlap": 5}
QUALITY = ("min_skill", "min_golden", "min_seconds", "aggregation_method", "target_confidence", "min_overlap")


def test_defaults_are_shown_in_the_pool(api, requester):
    body = api(requester).post("/api/v1/pools/", POOL, format="json").json()
    assert {key: body[key] for key in QUALITY} == {
        "min_skill": 0.7,
        "min_golden": 5,
        "min_seconds": None,
        "aggregation_method": "ds",
        "target_confidence": None,
        "min_overlap": None,
    }


def test_quality_settings_are_stored(api, requester):
    settings = {
        "min_skill": 0.8,
        "min_golden": 10,
        "min_seconds": 2.5,
        "aggregation_method": "wawa",
        "target_confidence": 0.95,
        "min_overlap": 3,
    }
    response = api(requester).post("/api/v1/pools/", {**POOL, **settings}, format="json")
    assert response.status_code == 201, response.json()
    assert {key: response.json()[key] for key in QUALITY} == settings
    pool = Pool.objects.get()
    assert (pool.min_skill, pool.min_golden, pool.min_seconds) == (0.8, 10, 2.5)
    assert (pool.aggregation_method, pool.target_confidence, pool.min_overlap) == ("wawa", 0.95, 3)
    detail = api(requester).get(f"/api/v1/pools/{pool.pk}/").json()
    assert detail["aggregation_method"] == "wawa"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"aggregation_method": "glad"}, "aggregation_method"),
        ({"min_skill": 1.5}, "min_skill"),
        ({"min_golden": 0}, "min_golden"),
        ({"min_seconds": -1}, "min_seconds"),
        ({"target_confidence": 1.2}, "target_confidence"),
        ({"target_confidence": 0.3}, "target_confidence"),
        ({"target_confidence": 0.9, "min_overlap": 6}, "min_overlap"),  # more than the overlap
        ({"min_overlap": 2}, "min_overlap"),  # without a target it would do nothing
        ({"min_skill": 0.7, "min_golden": 1}, "min_skill"),  # would restrict a perfect worker
    ],
)
def test_unworkable_quality_settings_are_refused(api, requester, change, field):
    response = api(requester).post("/api/v1/pools/", {**POOL, **change}, format="json")
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert field in error["details"]["fields"]
    assert not Pool.objects.exists()
