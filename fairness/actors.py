"""Background jobs for fair work: thin wrappers around services, each safe to run twice."""

import dramatiq

from fairness import services


@dramatiq.actor(max_retries=0)
def pools_pay_refresh() -> None:
    """Re-measure the pay of open pools with new answers: drops pools below the floor from the feed."""
    services.pools_pay_refresh()


@dramatiq.actor(max_retries=0)
def requesters_stats_refresh() -> None:
    services.requesters_stats_refresh()


@dramatiq.actor(max_retries=0)
def decisions_sync() -> None:
    services.decisions_sync_restrictions()
