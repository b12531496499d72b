"""Background jobs for pools and assignments: thin wrappers that take ids and call services."""

import dramatiq

from tasks import services
from workflows.pools import pool_complete_if_done


@dramatiq.actor(max_retries=5)
def pool_check_completion(pool_id: int) -> None:
    pool_complete_if_done(pool_id=pool_id)


@dramatiq.actor(max_retries=0)
def assignments_tidy() -> None:
    """Every minute (fairlabel.broker): expire what nobody took over. Claims never wait for this to run."""
    services.assignments_expire_stale()


@dramatiq.actor(max_retries=0)
def pools_tidy() -> None:
    """Safety net for a completion message that was lost: every open pool whose tasks are done completes."""
    from tasks.models import Pool, PoolStatus

    for pool_id in Pool.objects.filter(status=PoolStatus.OPEN).values_list("pk", flat=True):
        pool_complete_if_done(pool_id=pool_id)
