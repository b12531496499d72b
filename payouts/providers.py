"""Payout providers: whoever actually moves a withdrawal's money to the worker.

Every call carries the withdrawal's idempotency key. A provider must treat a key it has already paid as a
question ("did you pay this?") and answer with the first payment, never pay again. It raises PayoutFailed
only when it is sure it did not pay; any other exception means "outcome unknown" and the caller retries.
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from fairlabel.money import money_str
from fairlabel.spreadsheets import spreadsheet_row, spreadsheet_safe
from payouts.models import SimulatedBankTransfer


@dataclass(frozen=True)
class PayoutRequest:
    idempotency_key: str
    withdrawal_id: int
    amount: Decimal
    currency: str
    payee_id: int
    payee_username: str
    payee_email: str
    requested_at: datetime


@dataclass(frozen=True)
class PayoutReceipt:
    reference: str


class PayoutFailed(Exception):
    """The provider did not pay. `retryable`: it may work later (a timeout at the bank, a daily limit)."""

    def __init__(self, reason: str, *, retryable: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class PayoutProvider(Protocol):
    name: str

    def pay(self, request: PayoutRequest) -> PayoutReceipt: ...


class SimulatedProvider:
    """A bank that pays at once (the default, for the demo and the tests).

    Its book is the SimulatedBankTransfer table, written in its own transaction as an outside system would.
    SIMULATED_PAYOUT_FAILURE_RATE declines that share of new transfers (retryable); SIMULATED_PAYOUT_DELAY
    is how long the confirmation takes to come back, after the money has moved: the window in which a
    crash leaves a payment that the platform has not recorded, which is the case idempotency keys are for.
    """

    name = "simulated"

    def pay(self, request: PayoutRequest) -> PayoutReceipt:
        existing = SimulatedBankTransfer.objects.filter(idempotency_key=request.idempotency_key).first()
        if existing is not None:
            return self._replay(existing, request)
        if random.random() < settings.SIMULATED_PAYOUT_FAILURE_RATE:
            self._wait()
            raise PayoutFailed(
                "the simulated bank declined the transfer; it will be tried again", retryable=True
            )
        try:
            with transaction.atomic():
                transfer = SimulatedBankTransfer.objects.create(
                    idempotency_key=request.idempotency_key,
                    reference=f"SIM-{uuid.uuid4().hex[:16].upper()}",
                    payee=f"{request.payee_username} (#{request.payee_id})",
                    payer_reference=str(request.withdrawal_id),
                    amount=request.amount,
                )
        except IntegrityError:  # the same key presented twice at once: the bank pays one of them
            return self._replay(
                SimulatedBankTransfer.objects.get(idempotency_key=request.idempotency_key), request
            )
        self._wait()
        return PayoutReceipt(reference=transfer.reference)

    def _replay(self, transfer: SimulatedBankTransfer, request: PayoutRequest) -> PayoutReceipt:
        if transfer.amount != request.amount:
            raise PayoutFailed(
                f"the bank already paid {money_str(transfer.amount)} under this key, not {money_str(request.amount)}",
                retryable=False,
            )
        SimulatedBankTransfer.objects.filter(pk=transfer.pk).update(replays=F("replays") + 1)
        self._wait()
        return PayoutReceipt(reference=transfer.reference)

    def _wait(self) -> None:
        if settings.SIMULATED_PAYOUT_DELAY > 0:
            time.sleep(settings.SIMULATED_PAYOUT_DELAY)


BATCH_COLUMNS = [
    "idempotency_key",
    "withdrawal_id",
    "payee_id",
    "payee_username",
    "payee_email",
    "amount",
    "currency",
    "requested_at",
    "written_at",
]


class BatchFileProvider:
    """Appends each payout to a CSV file per day in PAYOUT_BATCH_DIR, which a finance team uploads to the bank.

    "Paid" here means handed to finance in the file. The file of a withdrawal is chosen by the day it was
    requested, so a retry always looks in the same file; a key already in it is not written again. The
    file is locked (flock) while it is read and appended to, and synced to disk before we record the payout.
    """

    name = "batch_file"

    def pay(self, request: PayoutRequest) -> PayoutReceipt:
        directory = Path(settings.PAYOUT_BATCH_DIR)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"payouts-{request.requested_at.astimezone(UTC):%Y-%m-%d}.csv"
        reference = f"{path.name}#{request.idempotency_key}"
        with open(path, "a+", newline="", encoding="utf-8") as file:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX)
            file.seek(0)
            text = file.read()
            for row in csv.reader(io.StringIO(text)):
                if len(row) == len(BATCH_COLUMNS) and row[0] == spreadsheet_safe(request.idempotency_key):
                    return PayoutReceipt(reference=reference)
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            if not text:
                writer.writerow(BATCH_COLUMNS)
            elif not text.endswith("\n"):
                out.write("\n")  # a line cut short by a crash stays on its own and is ignored above
            writer.writerow(
                spreadsheet_row(
                    [
                        request.idempotency_key,
                        request.withdrawal_id,
                        request.payee_id,
                        request.payee_username,
                        request.payee_email,
                        money_str(request.amount),
                        request.currency,
                        request.requested_at.astimezone(UTC).isoformat(),
                        datetime.now(UTC).isoformat(),
                    ]
                )
            )
            file.write(out.getvalue())
            file.flush()
            os.fsync(file.fileno())
        return PayoutReceipt(reference=reference)


PROVIDERS: dict[str, type[SimulatedProvider] | type[BatchFileProvider]] = {
    SimulatedProvider.name: SimulatedProvider,
    BatchFileProvider.name: BatchFileProvider,
}


def provider_for(name: str) -> PayoutProvider:
    try:
        return PROVIDERS[name]()
    except KeyError:
        raise ValueError(f"no payout provider named {name!r}; known: {', '.join(PROVIDERS)}") from None
