"""Ledger invariants, recomputed from the entries themselves."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F, Q, Sum

from fairlabel.money import money_str
from payouts.models import (
    OPEN_WITHDRAWAL_STATUSES,
    Account,
    AccountKind,
    Entry,
    LedgerTransaction,
    Withdrawal,
    WithdrawalStatus,
)
from tasks.models import Answer, AnswerStatus

SHOW = 20  # breaches listed per kind; the count says how many there are


@dataclass(frozen=True)
class LedgerReport:
    problems: list[str]
    totals: dict[str, Decimal]
    transactions: int
    entries: int
    duration_ms: int


@contextmanager
def _snapshot() -> Iterator[None]:
    """Read everything from one snapshot, so postings committing meanwhile cannot look like a breach."""
    if not connection.in_atomic_block:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield
    else:
        yield


def ledger_report() -> LedgerReport:
    began = time.monotonic()
    with _snapshot():
        problems = ledger_problems()
        totals = _totals_by_kind()
        transactions = LedgerTransaction.objects.count()
        entries = Entry.objects.count()
    return LedgerReport(
        problems=problems,
        totals=totals,
        transactions=transactions,
        entries=entries,
        duration_ms=int((time.monotonic() - began) * 1000),
    )


def _totals_by_kind() -> dict[str, Decimal]:
    rows = Account.objects.values("kind").annotate(total=Sum("balance")).values_list("kind", "total")
    return {kind: total or Decimal(0) for kind, total in rows}


def ledger_problems() -> list[str]:
    """Every breach found, as sentences; an empty list means the ledger is whole."""
    with _snapshot():
        return _problems()


def _problems() -> list[str]:
    problems: list[str] = []

    # 1. Every transaction sums to zero (the database also refuses an unbalanced one at commit).
    per_txn = LedgerTransaction.objects.annotate(total=Sum("entries__amount"))
    rows = list(per_txn.filter(~Q(total=0) | Q(total__isnull=True)).values_list("pk", "kind", "total"))
    for pk, kind, total in rows[:SHOW]:
        problems.append(
            f"transaction {pk} ({kind}) sums to {total if total is not None else 'nothing'}, not zero"
        )
    if len(rows) > SHOW:
        problems.append(f"... {len(rows) - SHOW} more unbalanced transactions")

    # 2. Cached balances equal their entries.
    per_account = Account.objects.annotate(from_entries=Sum("entries__amount"))
    drifted = list(
        per_account.exclude(balance=F("from_entries"))
        .exclude(balance=0, from_entries__isnull=True)
        .values_list("key", "balance", "from_entries")
    )
    for key, balance, from_entries in drifted[:SHOW]:
        problems.append(f"account {key} caches {balance} but its entries sum to {from_entries or 0}")
    if len(drifted) > SHOW:
        problems.append(f"... {len(drifted) - SHOW} more accounts whose cached balance drifted")

    # 3. No account below zero where that is forbidden.
    negative = Account.objects.filter(balance__lt=0, may_go_negative=False)
    count = negative.count()
    for name, below in negative.values_list("key", "balance")[:SHOW]:
        problems.append(f"account {name} is below zero: {below}")
    if count > SHOW:
        problems.append(f"... {count - SHOW} more accounts below zero")
    # A pool's spent rows may go below zero, but never the pool's reservation taken with them.
    per_pool = (
        Account.objects.filter(kind=AccountKind.POOL_RESERVED)
        .values("pool_id")
        .annotate(held=Sum("balance"))
        .order_by("pool_id")
    )
    overspent = list(per_pool.filter(held__lt=0).values_list("pool_id", "held"))
    for pool_id, held in overspent[:SHOW]:
        problems.append(f"pool {pool_id} has spent more than its reservation: {held}")

    # 4. Deposits = requester balances + reservations + worker balances + fees + in flight + paid out.
    totals = _totals_by_kind()
    deposits = -(totals.get(AccountKind.WORLD_DEPOSITS) or Decimal(0))
    held = sum((v for k, v in totals.items() if k != AccountKind.WORLD_DEPOSITS), Decimal(0))
    if deposits != held:
        problems.append(
            f"deposits {deposits} differ from requester balances + reservations + worker balances + fees "
            f"+ withdrawals in flight + paid out = {held}"
        )
    entries_total = Entry.objects.aggregate(total=Sum("amount"))["total"] or Decimal(0)
    if entries_total != 0:
        problems.append(f"all entries together sum to {entries_total}, not zero")

    # 5. The ledger agrees with the rows it pays for.
    in_flight = totals.get(AccountKind.WITHDRAWALS_IN_FLIGHT) or Decimal(0)
    open_withdrawals = Withdrawal.objects.filter(status__in=OPEN_WITHDRAWAL_STATUSES).aggregate(
        total=Sum("amount")
    )["total"] or Decimal(0)
    if in_flight != open_withdrawals:
        problems.append(
            f"withdrawals in flight hold {in_flight} but unfinished withdrawals total {open_withdrawals}"
        )
    paid_out = totals.get(AccountKind.WORLD_WITHDRAWALS) or Decimal(0)
    paid = Withdrawal.objects.filter(status=WithdrawalStatus.PAID).aggregate(total=Sum("amount"))[
        "total"
    ] or Decimal(0)
    if paid_out != paid:
        problems.append(f"paid out {paid_out} in the ledger but paid withdrawals total {paid}")
    pending_by_worker = dict(
        Account.objects.filter(kind=AccountKind.WORKER_PENDING)
        .exclude(balance=0)
        .values_list("user_id")
        .annotate(total=Sum("balance"))
    )
    answers_by_worker = dict(
        Answer.objects.filter(status=AnswerStatus.PENDING)
        .values_list("worker_id")
        .annotate(total=Sum("reward"))
    )
    mismatched = [
        (
            worker_id,
            pending_by_worker.get(worker_id, Decimal(0)),
            answers_by_worker.get(worker_id, Decimal(0)),
        )
        for worker_id in sorted(set(pending_by_worker) | set(answers_by_worker))
        if pending_by_worker.get(worker_id, Decimal(0)) != answers_by_worker.get(worker_id, Decimal(0))
    ]
    for worker_id, pending, answers in mismatched[:SHOW]:
        problems.append(
            f"worker {worker_id} has {money_str(pending)} pending but their answers awaiting review total "
            f"{money_str(answers)}"
        )
    if len(mismatched) > SHOW:
        problems.append(f"... {len(mismatched) - SHOW} more workers whose pending balance disagrees")
    return problems
