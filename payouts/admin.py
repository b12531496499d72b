"""The admin site shows the ledger read-only: corrections are reversing postings, never edits."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from payouts.models import (
    Account,
    Entry,
    LedgerCheckRun,
    LedgerTransaction,
    SimulatedBankTransfer,
    Withdrawal,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LedgerCheckRun)
class LedgerCheckRunAdmin(ReadOnlyAdmin):
    list_display = ("ran_at", "ok", "breaches", "duration_ms")
    list_filter = ("ok",)
    readonly_fields = ("ran_at", "ok", "problems", "duration_ms")

    @admin.display(description="breaches")
    def breaches(self, run: LedgerCheckRun) -> int:
        return len(run.problems)


@admin.register(Withdrawal)
class WithdrawalAdmin(ReadOnlyAdmin):
    list_display = ("id", "worker", "amount", "status", "attempts", "provider", "created_at", "finished_at")
    list_filter = ("status", "provider")
    search_fields = ("worker__username", "idempotency_key", "provider_reference")
    list_select_related = ("worker",)


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("key", "kind", "balance", "user", "pool")
    list_filter = ("kind",)
    search_fields = ("key",)
    list_select_related = ("user", "pool")


class EntryInline(admin.TabularInline):
    model = Entry
    fields = ("account", "amount")
    readonly_fields = ("account", "amount")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "created_at", "pool", "memo")
    list_filter = ("kind",)
    search_fields = ("idempotency_key", "memo")
    inlines = [EntryInline]


@admin.register(SimulatedBankTransfer)
class SimulatedBankTransferAdmin(ReadOnlyAdmin):
    list_display = ("reference", "payee", "amount", "payer_reference", "replays", "created_at")
