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
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    amount = models.DecimalField(max_digits=20, decimal_places=6)

    class Meta:
        verbose_name_plural = "entries"
        constraints = [models.CheckConstraint(condition=~models.Q(amount=0), name="entry_amount_not_zero")]
        indexes = [models.Index(fields=["account", "transaction"], name="entry_account_txn")]
