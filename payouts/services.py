"""Writes to the ledger. Every posting is one database transaction whose entries sum to zero."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.db.models import F

from payouts.models import NEGATIVE_ALLOWED, Account, AccountKind, Entry, LedgerTransaction, TransactionKind
from payouts.money import quantize

if TYPE_CHECKING:
    from accounts.models import User
    from tasks.models import Pool


class InsufficientFunds(Exception):
    def __init__(self, *, account: Account, needed: Decimal, available: Decimal) -> None:
        super().__init__(f"{account.key} holds {available}, {needed} is needed")
        self.account = account
        self.needed = needed
        self.available = available


def _account(*, key: str, kind: AccountKind, user: User | None = None, pool: Pool | None = None) -> Account:
    account = Account.objects.filter(key=key).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return Account.objects.create(
                key=key, kind=kind, user=user, pool=pool, may_go_negative=kind in NEGATIVE_ALLOWED
            )
    except IntegrityError:  # created by a concurrent request a moment ago
        return Account.objects.get(key=key)


def account_world_deposits() -> Account:
    return _account(key="world:deposits", kind=AccountKind.WORLD_DEPOSITS)


def account_world_withdrawals() -> Account:
    return _account(key="world:withdrawals", kind=AccountKind.WORLD_WITHDRAWALS)


def account_platform_fees() -> Account:
    return _account(key="platform:fees", kind=AccountKind.PLATFORM_FEES)


def account_withdrawals_in_flight() -> Account:
    return _account(key="platform:withdrawals_in_flight", kind=AccountKind.WITHDRAWALS_IN_FLIGHT)


def account_requester_available(*, user: User) -> Account:
    return _account(key=f"requester:{user.pk}", kind=AccountKind.REQUESTER_AVAILABLE, user=user)


def account_pool_reserved(*, pool: Pool) -> Account:
    return _account(key=f"pool:{pool.pk}", kind=AccountKind.POOL_RESERVED, user=pool.requester, pool=pool)


def account_worker_available(*, user: User) -> Account:
    return _account(key=f"worker:{user.pk}:available", kind=AccountKind.WORKER_AVAILABLE, user=user)


def account_worker_pending(*, user: User) -> Account:
    return _account(key=f"worker:{user.pk}:pending", kind=AccountKind.WORKER_PENDING, user=user)


def ledger_post(
    *,
    kind: TransactionKind,
    legs: Sequence[tuple[Account, Decimal]],
    memo: str = "",
    pool: Pool | None = None,
    idempotency_key: str | None = None,
) -> LedgerTransaction:
    """Post one balanced transaction. Raises InsufficientFunds if an account would go below zero.

    Runs inside the caller's transaction when there is one, so money moves together with the change it
    pays for (an answer, a pool opening) or not at all.
    """
    amounts: dict[int, Decimal] = {}
    accounts: dict[int, Account] = {}
    for account, amount in legs:
        amounts[account.pk] = amounts.get(account.pk, Decimal(0)) + quantize(amount)
        accounts[account.pk] = account
    if sum(amounts.values(), Decimal(0)) != 0:
        raise ValueError(f"a {kind} transaction must sum to zero, got {sum(amounts.values())}")
    legs_by_account = {pk: amount for pk, amount in amounts.items() if amount != 0}
    if not legs_by_account:
        raise ValueError("a transaction needs at least one non-zero amount")
    with transaction.atomic():
        if idempotency_key is not None:
            existing = LedgerTransaction.objects.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return existing
        txn = LedgerTransaction.objects.create(
            kind=kind, memo=memo[:255], pool=pool, idempotency_key=idempotency_key
        )
        Entry.objects.bulk_create(
            [Entry(transaction=txn, account_id=pk, amount=amount) for pk, amount in legs_by_account.items()]
        )
        # Ascending id order everywhere, so two postings never wait on each other in a cycle.
        for pk in sorted(legs_by_account):
            amount = legs_by_account[pk]
            account = accounts[pk]
            query = Account.objects.filter(pk=pk)
            if amount < 0 and not account.may_go_negative:
                query = query.filter(balance__gte=-amount)
            if query.update(balance=F("balance") + amount) != 1:
                current = Account.objects.get(pk=pk).balance
                raise InsufficientFunds(account=account, needed=-amount, available=current)
        return txn


def deposit_create(*, user: User, amount: Decimal, memo: str = "") -> LedgerTransaction:
    """Money from outside (a card, a bank transfer) lands in a requester's available balance."""
    if amount <= 0:
        raise ValueError("a deposit must be greater than zero")
    if not user.is_requester:
        raise ValueError(f"{user.username} is not a requester: only requesters deposit money")
    with transaction.atomic():
        return ledger_post(
            kind=TransactionKind.DEPOSIT,
            legs=[(account_world_deposits(), -amount), (account_requester_available(user=user), amount)],
            memo=memo or f"deposit to {user.username}",
        )
