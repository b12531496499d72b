"""Reads for balances, earnings, billing and review. Money shown to people comes from the ledger's entries."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Min, Sum

from fairlabel.money import cost_per_answer, fee_for
from fairlabel.rows import from_row, select_list
from fairlabel.sql import prepared_cursor
from payouts.models import OPEN_WITHDRAWAL_STATUSES, Account, AccountKind, Entry, TransactionKind, Withdrawal
from tasks.models import Answer, AnswerStatus, Pool
from tasks.services import golden_slots_for

if TYPE_CHECKING:
    from accounts.models import User


_KIND_BALANCE = select_list(Account, "a", ("kind", "balance"))


@dataclass(frozen=True)
class Balance:
    available: Decimal
    reserved: Decimal


@dataclass(frozen=True)
class PoolReservation:
    reserved_in: Decimal  # every posting into the reservation (opening, added tasks, a raised reward, ...)
    released: Decimal  # what went back to the requester
    held: Decimal  # what it holds now: the reservation and its spent rows
    drawn: Decimal  # everything the pool took from the requester's balance, less what came back

    @property
    def spent(self) -> Decimal:
        """A pool's spent money, the one definition (API, dashboard, billing): what the requester paid for the
        pool's work, net of rejections, top-ups included. Everything the pool took from the requester's balance
        and no longer holds reached workers or the platform's fees, since every transaction sums to zero; read
        this way it costs a few postings per pool, never one per answer."""
        return self.drawn - self.held


def pool_reservations(*, pool_ids: list[int]) -> dict[int, PoolReservation]:
    """The money of each pool that has had a reservation, in two grouped queries whatever the pools hold:
    only reservation and release postings are read (a few per pool), not the one posting per answer."""
    held = dict(
        Account.objects.filter(pool_id__in=pool_ids, kind=AccountKind.POOL_RESERVED)
        .values("pool_id")
        .annotate(held=Sum("balance"))
        .order_by()
        .values_list("pool_id", "held")
    )
    flows: dict[tuple[int, str], Decimal] = {}
    for pool_id, kind, total in (
        Entry.objects.filter(
            account__kind=AccountKind.POOL_RESERVED,
            account__pool_id__in=pool_ids,
            transaction__kind__in=[TransactionKind.POOL_RESERVE, TransactionKind.POOL_RELEASE],
        )
        .values("account__pool_id", "transaction__kind")
        .annotate(total=Sum("amount"))
        .order_by()
        .values_list("account__pool_id", "transaction__kind", "total")
    ):
        flows[(pool_id, kind)] = total
    drawn = dict(
        Entry.objects.filter(account__kind=AccountKind.REQUESTER_AVAILABLE, transaction__pool_id__in=pool_ids)
        .values("transaction__pool_id")
        .annotate(total=Sum("amount"))
        .order_by()
        .values_list("transaction__pool_id", "total")
    )
    return {
        pool_id: PoolReservation(
            reserved_in=flows.get((pool_id, TransactionKind.POOL_RESERVE), Decimal(0)),
            released=-flows.get((pool_id, TransactionKind.POOL_RELEASE), Decimal(0)),
            held=balance,
            drawn=-drawn.get(pool_id, Decimal(0)),
        )
        for pool_id, balance in held.items()
    }


def balance_for_user(*, user: User) -> Balance:
    """Requester: available and what their pools hold. Worker: available and pending (not yet available)."""
    # SQL and a sum made here: every submit's response shows the balance, and the ORM's grouped query cost
    # five times what PostgreSQL spent on it.
    totals: dict[str, Decimal] = defaultdict(Decimal)
    with prepared_cursor() as cursor:
        cursor.execute(f"SELECT {_KIND_BALANCE} FROM payouts_account a WHERE a.user_id = %s", [user.pk])
        for row in cursor.fetchall():
            account = from_row(Account, row, ("kind", "balance"))
            totals[account.kind] += account.balance
    if user.is_requester:
        return Balance(
            available=totals.get(AccountKind.REQUESTER_AVAILABLE, Decimal(0)),
            reserved=totals.get(AccountKind.POOL_RESERVED, Decimal(0)),
        )
    return Balance(
        available=totals.get(AccountKind.WORKER_AVAILABLE, Decimal(0)),
        reserved=totals.get(AccountKind.WORKER_PENDING, Decimal(0)),
    )


def money_held_by(*, user: User) -> Decimal:
    """What is still this person's to take out: a worker's available and pending pay, a requester's balance."""
    held = Account.objects.filter(
        user=user,
        kind__in=[AccountKind.WORKER_AVAILABLE, AccountKind.WORKER_PENDING, AccountKind.REQUESTER_AVAILABLE],
    ).aggregate(total=Sum("balance"))["total"]
    return held or Decimal(0)


def withdrawal_in_flight(*, worker: User) -> bool:
    return Withdrawal.objects.filter(worker=worker, status__in=OPEN_WITHDRAWAL_STATUSES).exists()


# ---------------------------------------------------------------------------------------------- workers


@dataclass(frozen=True)
class Credit:
    """One answer's pay, as the worker sees it: what the requester paid and what the worker received."""

    answer_id: int
    at: datetime
    pool_id: int | None
    pool_name: str
    requester_paid: Decimal
    received: Decimal
    status: str
    reject_reason: str
    review_deadline: datetime | None


CREDITS_PAGE = 100


def credits_for_worker(*, worker: User, page: int = 1) -> tuple[list[Credit], bool]:
    """The worker's answer credits, newest first, and whether an older page exists."""
    accounts = list(
        Account.objects.filter(
            user=worker, kind__in=[AccountKind.WORKER_AVAILABLE, AccountKind.WORKER_PENDING]
        ).values_list("pk", flat=True)
    )
    start = (page - 1) * CREDITS_PAGE
    rows = list(
        Entry.objects.filter(account_id__in=accounts, transaction__kind=TransactionKind.ANSWER_REWARD)
        .order_by("-transaction_id")
        .values_list(
            "transaction_id",
            "amount",
            "transaction__created_at",
            "transaction__idempotency_key",
            "transaction__pool",
        )[start : start + CREDITS_PAGE + 1]
    )
    more = len(rows) > CREDITS_PAGE
    rows = rows[:CREDITS_PAGE]
    txn_ids = [row[0] for row in rows]
    fees = dict(
        Entry.objects.filter(transaction_id__in=txn_ids, account__kind=AccountKind.PLATFORM_FEES)
        .values_list("transaction_id")
        .annotate(total=Sum("amount"))
    )
    answer_ids = [int(row[3].split(":")[1]) for row in rows if row[3]]
    answers: dict[int, dict[str, Any]] = {
        a["pk"]: dict(a)
        for a in Answer.objects.filter(pk__in=answer_ids).values(
            "pk", "status", "reject_reason", "submitted_at", "pool__review_hours"
        )
    }
    pools = dict(Pool.objects.filter(pk__in={row[4] for row in rows if row[4]}).values_list("pk", "name"))
    credits = []
    for txn_id, received, at, key, pool_id in rows:
        answer_id = int(key.split(":")[1]) if key else 0
        answer: dict[str, Any] = answers.get(answer_id, {})
        status = answer.get("status", AnswerStatus.ACCEPTED)
        deadline = None
        if status == AnswerStatus.PENDING:
            deadline = answer["submitted_at"] + timedelta(hours=answer["pool__review_hours"])
        credits.append(
            Credit(
                answer_id=answer_id,
                at=at,
                pool_id=pool_id,
                pool_name=pools.get(pool_id, ""),
                requester_paid=received + fees.get(txn_id, Decimal(0)),
                received=received,
                status=status,
                reject_reason=answer.get("reject_reason", ""),
                review_deadline=deadline,
            )
        )
    return credits, more


def withdrawals_for_worker(*, worker: User, limit: int = 100, offset: int = 0) -> list[Withdrawal]:
    return list(
        Withdrawal.objects.filter(worker=worker).order_by("-created_at", "-id")[offset : offset + limit]
    )


@dataclass(frozen=True)
class Earnings:
    available: Decimal
    pending: Decimal
    in_flight: Decimal
    paid_out: Decimal
    earned: Decimal


def earnings_for_worker(*, worker: User) -> Earnings:
    balance = balance_for_user(user=worker)
    by_status = dict(
        Withdrawal.objects.filter(worker=worker).values_list("status").annotate(total=Sum("amount"))
    )
    accounts = Account.objects.filter(
        user=worker, kind__in=[AccountKind.WORKER_AVAILABLE, AccountKind.WORKER_PENDING]
    )
    # What work and top-ups brought in, net of rejections: every entry on the worker's accounts except the
    # movements between them and to or from withdrawals.
    earned = Entry.objects.filter(account__in=accounts).exclude(
        transaction__kind__in=[
            TransactionKind.ANSWER_ACCEPT,
            TransactionKind.WITHDRAWAL,
            TransactionKind.WITHDRAWAL_FAILED,
        ]
    ).aggregate(total=Sum("amount"))["total"] or Decimal(0)
    return Earnings(
        available=balance.available,
        pending=balance.reserved,
        in_flight=(by_status.get("requested") or Decimal(0)) + (by_status.get("processing") or Decimal(0)),
        paid_out=by_status.get("paid") or Decimal(0),
        earned=earned,
    )


# ---------------------------------------------------------------------------------------------- requesters


@dataclass
class PoolBilling:
    pool_id: int
    name: str
    status: str
    reserved_now: Decimal = Decimal(0)
    reserved_total: Decimal = Decimal(0)
    rewards: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    top_ups: Decimal = Decimal(0)
    returned: Decimal = Decimal(0)
    spent: Decimal = Decimal(0)  # PoolReservation.spent; rewards + fees + top_ups break it down


@dataclass(frozen=True)
class HistoryLine:
    at: datetime
    kind: str
    kind_label: str
    amount: Decimal
    pool_id: int | None
    pool_name: str
    memo: str


@dataclass
class Billing:
    available: Decimal
    reserved: Decimal
    deposited: Decimal
    rewards: Decimal
    fees: Decimal
    top_ups: Decimal
    pools: list[PoolBilling] = field(default_factory=list)
    history: list[HistoryLine] = field(default_factory=list)

    @property
    def spent(self) -> Decimal:
        return sum((p.spent for p in self.pools), Decimal(0))


WORKER_KINDS = (AccountKind.WORKER_AVAILABLE, AccountKind.WORKER_PENDING)


def billing_for_requester(*, requester: User, history_limit: int = 200) -> Billing:
    """Deposits, reservations per pool, what was spent on rewards and on fees, and the full history."""
    balance = balance_for_user(user=requester)
    pools = {
        p.pk: PoolBilling(pool_id=p.pk, name=p.name, status=p.status)
        for p in Pool.objects.filter(requester=requester).order_by("-created_at", "-id")
    }
    for pool_id, money in pool_reservations(pool_ids=list(pools)).items():
        pools[pool_id].reserved_now = money.held
        pools[pool_id].reserved_total = money.reserved_in
        pools[pool_id].returned = money.released
        pools[pool_id].spent = money.spent
    # Rewards and fees: what the pool's answers paid, net of rejections (and of reinstated appeals).
    spend = (
        Entry.objects.filter(transaction__pool_id__in=list(pools))
        .exclude(account__kind__in=[AccountKind.POOL_RESERVED, AccountKind.REQUESTER_AVAILABLE])
        .values_list("transaction__pool_id", "transaction__kind", "account__kind")
        .annotate(total=Sum("amount"))
    )
    for pool_id, txn_kind, account_kind, total in spend:
        line = pools[pool_id]
        if account_kind == AccountKind.PLATFORM_FEES:
            line.fees += total
        elif account_kind in WORKER_KINDS and txn_kind == TransactionKind.TOP_UP:
            line.top_ups += total
        elif account_kind in WORKER_KINDS and txn_kind != TransactionKind.ANSWER_ACCEPT:
            line.rewards += total
    own = Account.objects.filter(user=requester, kind=AccountKind.REQUESTER_AVAILABLE)
    deposited = Entry.objects.filter(account__in=own, transaction__kind=TransactionKind.DEPOSIT).aggregate(
        total=Sum("amount")
    )["total"] or Decimal(0)
    labels = dict(TransactionKind.choices)
    history = [
        HistoryLine(
            at=at,
            kind=kind,
            kind_label=labels.get(kind, kind),
            amount=amount,
            pool_id=pool_id,
            pool_name=pools[pool_id].name if pool_id in pools else "",
            memo=memo,
        )
        for at, kind, amount, pool_id, memo in Entry.objects.filter(account__in=own)
        .order_by("-transaction_id")
        .values_list(
            "transaction__created_at",
            "transaction__kind",
            "amount",
            "transaction__pool_id",
            "transaction__memo",
        )[:history_limit]
    ]
    lines = list(pools.values())
    return Billing(
        available=balance.available,
        reserved=balance.reserved,
        deposited=deposited,
        rewards=sum((p.rewards for p in lines), Decimal(0)),
        fees=sum((p.fees for p in lines), Decimal(0)),
        top_ups=sum((p.top_ups for p in lines), Decimal(0)),
        pools=lines,
        history=history,
    )


# ---------------------------------------------------------------------------------------------- review


@dataclass(frozen=True)
class PoolToReview:
    pool: Pool
    pending: int
    first_deadline: datetime


def pools_to_review(*, requester: User) -> list[PoolToReview]:
    rows = (
        Answer.objects.filter(pool__requester=requester, status=AnswerStatus.PENDING)
        .values("pool_id")
        .annotate(pending=Count("id"), oldest=Min("submitted_at"))
    )
    counts = {row["pool_id"]: row for row in rows}
    pools = Pool.objects.filter(pk__in=list(counts)).order_by("id")
    return [
        PoolToReview(
            pool=pool,
            pending=counts[pool.pk]["pending"],
            first_deadline=counts[pool.pk]["oldest"] + timedelta(hours=pool.review_hours),
        )
        for pool in pools
    ]


@dataclass(frozen=True)
class AnswerToReview:
    answer: Answer
    deadline: datetime


def answers_to_review(*, pool: Pool, limit: int = 200) -> tuple[list[AnswerToReview], int]:
    """The pool's pending answers, oldest (closest to automatic acceptance) first, and how many there are."""
    pending = Answer.objects.filter(pool=pool, status=AnswerStatus.PENDING)
    answers = list(pending.select_related("task", "worker").order_by("submitted_at", "id")[:limit])
    window = timedelta(hours=pool.review_hours)
    return [AnswerToReview(answer=a, deadline=a.submitted_at + window) for a in answers], pending.count()


def answer_pool_id(*, requester: User, answer_id: int) -> int | None:
    return (
        Answer.objects.filter(pk=answer_id, pool__requester=requester)
        .values_list("pool_id", flat=True)
        .first()
    )


@dataclass(frozen=True)
class AnswersCost:
    """What `regular` answers cost a requester, with the golden answers paid alongside them."""

    regular: int
    golden: int
    rewards: Decimal
    fees: Decimal

    @property
    def answers(self) -> int:
        return self.regular + self.golden

    @property
    def total(self) -> Decimal:
        return self.rewards + self.fees


def answers_cost(*, reward: Decimal, golden_rate: float, regular: int) -> AnswersCost:
    """The one cost estimate: what opening reserves, what a pool's remaining answers will cost, what the pool
    page shows before opening. The fee is on top of the reward, never taken from the worker."""
    golden = golden_slots_for(regular_slots=regular, golden_rate=golden_rate)
    answers = regular + golden
    # Per answer, as each is paid: cost_per_answer is the reward plus its fee, both rounded to the ledger's unit.
    fees = fee_for(reward) * answers
    return AnswersCost(
        regular=regular, golden=golden, rewards=cost_per_answer(reward) * answers - fees, fees=fees
    )
