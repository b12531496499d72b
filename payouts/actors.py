"""Background jobs for payouts: thin wrappers that take ids and call services (each safe to run twice)."""

import dramatiq

from payouts import services


# Retries here only cover the unexpected (the database restarting); a provider's refusal is retried by the
# service with its own backoff, counted on the withdrawal row.
@dramatiq.actor(max_retries=3, min_backoff=1000, max_backoff=30000)
def withdrawal_pay(withdrawal_id: int) -> None:
    services.withdrawal_pay(withdrawal_id=withdrawal_id)


@dramatiq.actor(max_retries=0)
def withdrawals_resume() -> None:
    services.withdrawals_resume()


@dramatiq.actor(max_retries=0)
def answers_auto_accept() -> None:
    services.answers_auto_accept_expired()


@dramatiq.actor(max_retries=0, time_limit=30 * 60 * 1000)
def ledger_check() -> None:
    services.ledger_check_run()
