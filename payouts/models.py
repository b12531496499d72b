"""A double-entry ledger: append-only entries, each transaction summing to zero."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models


class AccountKind(models.TextChoices):
    WORLD_DEPOSITS = "world_deposits", "Deposits from outside"
    WORLD_WITHDRAWALS = "world_withdrawals", "Paid out to the outside"
    PLATFORM_FEES = "platform_fees", "Platform fees"
    REQUESTER_AVAILABLE = "requester_available", "Requester available"
    POOL_RESERVED = "pool_reserved", "Reserved for a pool"
    WORKER_PENDING = "worker_pending", "Worker pending"
    WORKER_AVAILABLE = "worker_available", "Worker available"
    WITHDRAWALS_IN_FLIGHT = "withdrawals_in_flight", "Withdrawals being paid"


# Only the outside world's deposit account runs negative: it mirrors money that came in.
NEGATIVE_ALLOWED = {AccountKind.WORLD_DEPOSITS}


class Account(models.Model):
    key = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=32, choices=AccountKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_accounts",
    )
    pool = models.ForeignKey(
        "tasks.Pool", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_accounts"
    )
    may_go_negative = models.BooleanField(default=False)
    # A cache of the sum of this account's entries, kept in the same transaction; ledger_check recomputes it.
    balance = models.DecimalField(max_digits=20, decimal_places=6, default=Decimal("0"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(may_go_negative=True) | models.Q(balance__gte=0),
                name="account_balance_not_negative",
            )
        ]

    def __str__(self) -> str:
        return self.key


class TransactionKind(models.TextChoices):
    DEPOSIT = "deposit", "Deposit"
    POOL_RESERVE = "pool_reserve", "Reserved for a pool"
    POOL_RELEASE = "pool_release", "Returned from a pool"
    ANSWER_REWARD = "answer_reward", "Reward for an answer"
    ANSWER_ACCEPT = "answer_accept", "Answer accepted"
    ANSWER_REJECT = "answer_reject", "Answer rejected"
    WITHDRAWAL = "withdrawal", "Withdrawal requested"
    WITHDRAWAL_PAID = "withdrawal_paid", "Withdrawal paid"
    WITHDRAWAL_FAILED = "withdrawal_failed", "Withdrawal failed"
    TOP_UP = "top_up", "Top-up to the pay floor"
    REVERSAL = "reversal", "Reversal"
    POOL_SETTLE = "pool_settle", "Answers paid, settled in a pool's reservation"


class LedgerTransaction(models.Model):
    kind = models.CharField(max_length=32, choices=TransactionKind.choices)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # A retried request finds the first posting instead of posting twice.
    idempotency_key = models.CharField(max_length=128, unique=True, null=True, blank=True)
    memo = models.CharField(max_length=255, blank=True)
    pool = models.ForeignKey(
        "tasks.Pool", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_transactions"
    )

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


class Entry(models.Model):
    transaction = models.ForeignKey(LedgerTransaction, on_delete=models.PROTECT, related_name="entries")
    # Served by the (account, transaction) index below; a second index would be written at every posting.
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries", db_index=False)
    amount = models.DecimalField(max_digits=20, decimal_places=6)

    class Meta:
        verbose_name_plural = "entries"
        constraints = [models.CheckConstraint(condition=~models.Q(amount=0), name="entry_amount_not_zero")]
        indexes = [models.Index(fields=["account", "transaction"], name="entry_account_txn")]


class WithdrawalStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    PROCESSING = "processing", "Being paid"
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed: money returned"


OPEN_WITHDRAWAL_STATUSES = (WithdrawalStatus.REQUESTED, WithdrawalStatus.PROCESSING)


class Withdrawal(models.Model):
    """A worker's cash-out. The row is the outbox: an actor pays it, a periodic job resends what stalled.

    The money leaves the worker's available balance when the row is created (same transaction) and sits in
    the in-flight account until the provider pays it (then it goes to the outside world) or finally refuses
    it (then it comes back to the worker).
    """

    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="withdrawals")
    amount = models.DecimalField(max_digits=20, decimal_places=6)
    status = models.CharField(
        max_length=16, choices=WithdrawalStatus.choices, default=WithdrawalStatus.REQUESTED
    )
    # Sent with every call to the provider, so a retry after a crash finds the first payment.
    idempotency_key = models.CharField(max_length=64, unique=True)
    # The client's Idempotency-Key header, so a retried POST does not create a second withdrawal.
    request_key = models.CharField(max_length=128, null=True, blank=True)
    # Chosen once: a retry goes to the provider that may already have paid, even if settings changed.
    provider = models.CharField(max_length=32)
    provider_reference = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When the next attempt is due; while an attempt runs, when it is presumed dead (its worker was killed).
    next_attempt_at = models.DateTimeField()
    failure_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="withdrawal_amount_positive"),
            models.UniqueConstraint(
                fields=["worker", "request_key"],
                condition=models.Q(request_key__isnull=False),
                name="withdrawal_request_once",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="paid") | ~models.Q(provider_reference=""),
                name="withdrawal_paid_has_reference",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=["requested", "processing"]),
                name="withdrawal_due",
            ),
            models.Index(fields=["worker", "-created_at"], name="withdrawal_worker_time"),
        ]

    def __str__(self) -> str:
        return f"withdrawal #{self.pk} ({self.status})"


class SimulatedBankTransfer(models.Model):
    """The simulated payout provider's own book: what the "bank" paid, once per idempotency key.

    It stands for a system outside the platform, so it is written in its own transaction, never in ours.
    """

    idempotency_key = models.CharField(max_length=64, unique=True)
    reference = models.CharField(max_length=64, unique=True)
    payee = models.CharField(max_length=200)
    # What the caller said it pays for (our withdrawal id); the bank does not know our tables.
    payer_reference = models.CharField(max_length=64, db_index=True)
    amount = models.DecimalField(max_digits=20, decimal_places=6)
    created_at = models.DateTimeField(auto_now_add=True)
    # Calls that presented a key already paid: the idempotency key doing its job.
    replays = models.PositiveIntegerField(default=0)


class LedgerCheckRun(models.Model):
    """One run of ledger_check, shown on the admin site."""

    ran_at = models.DateTimeField(auto_now_add=True, db_index=True)
    ok = models.BooleanField()
    problems = models.JSONField(default=list)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-ran_at"]

    def __str__(self) -> str:
        return f"ledger check {self.ran_at:%Y-%m-%d %H:%M:%S}: {'ok' if self.ok else 'BREACH'}"
