"""Ledger invariants, recomputed from the entries themselves."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import F, Q, Sum

from payouts.models import NEGATIVE_ALLOWED, Account, AccountKind, Entry, LedgerTransaction


def ledger_problems() -> list[str]:
    """Every breach found, as sentences; an empty list means the ledger is whole."""
    problems: list[str] = []
    unbalanced = (
        LedgerTransaction.objects.annotate(total=Sum("entries__amount"))
        .filter(~Q(total=0) | Q(total__isnull=True))
        .values_list("pk", "kind", "total")[:20]
    )
    for pk, kind, total in unbalanced:
        problems.append(f"transaction {pk} ({kind}) sums to {total or 'nothing'}, not zero")
    drifted = (
        Account.objects.annotate(from_entries=Sum("entries__amount"))
        .exclude(balance=F("from_entries"))
        .exclude(balance=0, from_entries__isnull=True)
        .values_list("key", "balance", "from_entries")[:20]
    )
    for key, balance, from_entries in drifted:
        problems.append(f"account {key} caches {balance} but its entries sum to {from_entries or 0}")
    negative = (
        Account.objects.filter(balance__lt=0).exclude(kind__in=NEGATIVE_ALLOWED).values_list("key", "balance")
    )
    for key, balance in negative[:20]:
        problems.append(f"account {key} is below zero: {balance}")
    totals = dict(Account.objects.values("kind").annotate(total=Sum("balance")).values_list("kind", "total"))
    deposits = -(totals.get(AccountKind.WORLD_DEPOSITS) or Decimal(0))
    held = sum((v for k, v in totals.items() if k != AccountKind.WORLD_DEPOSITS), Decimal(0))
    if deposits != held:
        problems.append(
            f"deposits {deposits} differ from requester balances + reservations + worker balances + fees "
            f"+ paid out = {held}"
        )
    entries_total = Entry.objects.aggregate(total=Sum("amount"))["total"] or Decimal(0)
    if entries_total != 0:
        problems.append(f"all entries together sum to {entries_total}, not zero")
    return problems
