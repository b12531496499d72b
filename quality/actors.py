"""Background jobs for quality: thin wrappers that take ids and call services."""

import dramatiq

from quality import services


# No retries: a failed run leaves its answers newer than the stored results, and the periodic catch-up
# asks for another run within a minute (a retry would find nothing due anyway: the run cleared due_at).
@dramatiq.actor(max_retries=0, time_limit=int(services.RUN_LEASE.total_seconds() * 1000))
def pool_aggregate(pool_id: int) -> None:
    services.pool_aggregate_when_due(pool_id=pool_id)


@dramatiq.actor(max_retries=0)
def aggregations_catch_up() -> None:
    services.aggregations_catch_up()
