"""A background import: integrations keeps the job, tasks takes the rows, payouts reserves their cost."""

from __future__ import annotations

from integrations import services as integrations_services
from integrations.models import ImportJob
from quality.types import row_check
from workflows.pools import tasks_import


def import_job_run(*, job_id: int) -> ImportJob | None:
    """Run the job all or nothing in its own (durable) transaction; safe to run twice."""
    return integrations_services.import_job_run(job_id=job_id, load_rows=tasks_import, row_check=row_check)
