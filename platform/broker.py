"""Background jobs: the periodic schedule, and the in-process worker `make run` uses without a broker."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

import dramatiq
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    actor: str  # "module:actor_name"
    seconds: int


# Each job is idempotent, so running it twice (two schedulers, a retry) does no harm.
PERIODIC_JOBS: list[PeriodicJob] = [
    PeriodicJob("tasks.actors:assignments_tidy", 60),
    PeriodicJob("tasks.actors:pools_tidy", 300),
    # Payouts: resend stalled withdrawals, accept answers whose review window ended, check the ledger.
    PeriodicJob("payouts.actors:withdrawals_resume", 30),
    PeriodicJob("payouts.actors:answers_auto_accept", 60),
    PeriodicJob("payouts.actors:ledger_check", 900),
    # Issue 6: pool.progress / pool.completed webhooks, and resending imports and deliveries whose message was lost.
    PeriodicJob("integrations.actors:webhooks_scan", 15),
    PeriodicJob("integrations.actors:integrations_tidy", 300),
    # Issue 7: measured pay against the floor (what hides a pool from the feed), review speed, restriction decisions.
    PeriodicJob("fairness.actors:pools_pay_refresh", 60),
    PeriodicJob("fairness.actors:requesters_stats_refresh", 300),
    PeriodicJob("fairness.actors:decisions_sync", 60),
    # Issue 4: resend aggregation runs whose message was lost; run pools whose answers are newer than their results.
    PeriodicJob("quality.actors:aggregations_catch_up", 60),
]


def _sender(spec: str) -> Callable[[], None]:
    module_name, actor_name = spec.split(":")

    def send() -> None:
        actor = getattr(import_module(module_name), actor_name)
        actor.send()

    return send


def _schedule(scheduler: BackgroundScheduler | BlockingScheduler) -> None:
    for job in PERIODIC_JOBS:
        scheduler.add_job(
            _sender(job.actor), "interval", seconds=job.seconds, id=job.actor, coalesce=True, max_instances=1
        )


def run_scheduler_forever() -> None:
    scheduler = BlockingScheduler(timezone="UTC")
    _schedule(scheduler)
    log.info("scheduler started with %d periodic jobs", len(PERIODIC_JOBS))
    scheduler.start()


def start_in_process_jobs(*, worker_threads: int = 2) -> tuple[dramatiq.Worker, BackgroundScheduler]:
    """A dramatiq worker thread and the schedule inside this process (embedded mode: no broker needed)."""
    worker = dramatiq.Worker(dramatiq.get_broker(), worker_threads=worker_threads, worker_timeout=250)
    worker.start()
    scheduler = BackgroundScheduler(timezone="UTC")
    _schedule(scheduler)
    scheduler.start()
    return worker, scheduler
