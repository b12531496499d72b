"""JSON a worker's client receives: never the golden label, nothing that tells golden tasks apart."""

from __future__ import annotations

from typing import Any

from fairlabel.money import money_str
from fairlabel.timestamps import json_time
from tasks.models import Assignment


def assignment_json(assignment: Assignment) -> dict[str, Any]:
    """What a worker sees: never the golden label, nothing that tells golden tasks apart."""
    pool = assignment.pool
    return {
        "id": assignment.pk,
        "expires_at": json_time(assignment.expires_at),
        "pool": {
            "id": pool.pk,
            "name": pool.name,
            "instructions": pool.instructions,
            "task_type": pool.task_type,
            "labels": pool.labels,
            **pool.options,
            "reward": money_str(pool.reward),
        },
        "task": {"id": assignment.task_id, "data": assignment.task.data},
    }
