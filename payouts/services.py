"""Writes to the ledger. Every posting is one database transaction whose entries sum to zero.

Money flows (every arrow is one balanced posting; the fee is always the requester's, never the worker's):

    deposit             world:deposits -> requester available
    pool open / tasks   requester available -> pool reservation         (rewards + fees of every place)
    answer (instant)    pool reservation -> worker available + platform fees
    answer (review)     pool reservation -> worker pending + platform fees
    accept              worker pending -> worker available
    reject              worker pending + platform fees -> pool reservation (or the requester, pool stopped)
    pool close          pool reservation -> requester available         (what is left)
    withdrawal          worker available -> withdrawals in flight
    paid / failed       in flight -> world:withdrawals  /  in flight -> worker available

In review mode the money leaves the reservation when the answer is submitted, as in instant mode, so a pool's
reservation always covers exactly the places it can still serve; a rejection gives back both the money and
the task's place, so another worker can answer it and be paid from the same reservation.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from fairlabel.errors import ServiceError
from fairlabel.jobs import enqueue
from fairlabel.money import cost_per_answer, fee_for, money_str, quantize
from fairlabel.sql import prepared_cursor
from payouts.ledger_invariants import LedgerReport, ledger_report
from payouts.models import (
    NEGATIVE_ALLOWED,
    OPEN_WITHDRAWAL_STATUSES,
    Account,
    AccountKind,
    Entry,
    LedgerCheckRun,
    LedgerTransaction,
    TransactionKind,
    Withdrawal,
    WithdrawalStatus,
)
from payouts.providers import PayoutFailed, PayoutRequest, provider_for
from payouts.selectors import answers_cost
from tasks.models import Answer, AnswerStatus, Pool, PoolStatus
from tasks.services import answer_place_return

if TYPE_CHECKING:
    from accounts.models import User

log = logging.getLogger(__name__)


class InsufficientFunds(Exception):
    def __init__(self, *, account: Account, needed: Decimal, available: Decimal) -> None:
        super().__init__(f"{account.key} holds {available}, {needed} is needed")
        self.account = account
        self.needed = needed
        self.available = available


# ------------------------------------------------------------------------------------------------ accounts

# Account rows are never deleted and their identity never changes, so each process remembers the ids it has
# seen committed: a submit then spends no query finding its accounts. Only committed rows are remembered
# (on_commit), so an account created in a transaction that rolled back is never used; the memory is emptied
# when the tables are flushed (the test suite), see PayoutsConfig.ready.
_ACCOUNT_FIELDS = ["id", "key", "kind", "user_id", "pool_id", "may_go_negative"]  # in model field order
_known_accounts: dict[str, tuple[object, ...]] = {}


def accounts_forget(**kwargs: object) -> None:
    _known_accounts.clear()


def _account(
    *,
    key: str,
    kind: AccountKind,
    user_id: int | None = None,
    pool_id: int | None = None,
    may_go_negative: bool | None = None,
) -> Account:
    """The account with this key, created on first use. Its balance is loaded only when read (then current)."""
    known = _known_accounts.get(key)
    if known is not None:
        return Account.from_db(DEFAULT_DB_ALIAS, _ACCOUNT_FIELDS, known)
    account = Account.objects.filter(key=key).only(*_ACCOUNT_FIELDS).first()
    if account is None:
        try:
            with transaction.atomic():
                account = Account.objects.create(
                    key=key,
                    kind=kind,
                    user_id=user_id,
                    pool_id=pool_id,
                    may_go_negative=kind in NEGATIVE_ALLOWED if may_go_negative is None else may_go_negative,
                )
        except IntegrityError:  # created by a concurrent request a moment ago
            account = Account.objects.only(*_ACCOUNT_FIELDS).get(key=key)
    row = tuple(getattr(account, name) for name in _ACCOUNT_FIELDS)
    transaction.on_commit(partial(_known_accounts.__setitem__, key, row))
    return account


def account_world_deposits() -> Account:
    return _account(key="world:deposits", kind=AccountKind.WORLD_DEPOSITS)


def account_world_withdrawals() -> Account:
    return _account(key="world:withdrawals", kind=AccountKind.WORLD_WITHDRAWALS)


# Every submit credits a fee account; with one row, submits to all pools would queue on its lock. Fees are
# spread over a few rows (by worker), which ledger_check and the reports add up by kind.
FEE_ACCOUNT_SHARDS = 8


def account_platform_fees(*, shard: int = 0) -> Account:
    shard %= FEE_ACCOUNT_SHARDS
    return _account(key="platform:fees" + (f":{shard}" if shard else ""), kind=AccountKind.PLATFORM_FEES)


def account_withdrawals_in_flight() -> Account:
    return _account(key="platform:withdrawals_in_flight", kind=AccountKind.WITHDRAWALS_IN_FLIGHT)


def account_requester_available(*, user: User | None = None, user_id: int | None = None) -> Account:
    uid = user.pk if user is not None else user_id
    return _account(key=f"requester:{uid}", kind=AccountKind.REQUESTER_AVAILABLE, user_id=uid)


def account_pool_reserved(*, pool: Pool) -> Account:
    """The pool's reservation. What answers spent since the last settlement is in its spent rows (below)."""
    return _account(
        key=f"pool:{pool.pk}", kind=AccountKind.POOL_RESERVED, user_id=pool.requester_id, pool_id=pool.pk
    )


# Every answer is paid from its pool's reservation. Debited from the one reservation row, a pool's submits
# queued on that row's lock, held from the posting to the commit: at 133 submits a second to one pool, four
# or five submits waited on it at any moment (docs/benchmarks.md, "Assignment"). Answers are debited instead
# to a few spent rows of the pool (by worker), of the same kind, so every sum of a pool's reservation stays
# right. They may go below zero because the claim has already bounded the spending: an answer exists only
# for a place the reservation paid for when the pool opened. `pool_reservation_settle` folds them into the
# reservation before anything reads its balance to decide, and before a release.
POOL_SPENT_SHARDS = 8


def account_pool_spent(*, pool: Pool, shard: int) -> Account:
    return _account(
        key=f"pool:{pool.pk}:spent:{shard % POOL_SPENT_SHARDS}",
        kind=AccountKind.POOL_RESERVED,
        user_id=pool.requester_id,
        pool_id=pool.pk,
        may_go_negative=True,
    )


def pool_reservation_settle(*, pool: Pool) -> Account:
    """Lock the pool's reservation and its spent rows, fold the spent rows into it, and return it locked.

    Its balance is then what the pool still holds. Submits in flight hold their spent row's lock until they
    commit, so this waits for them and counts what they paid.
    """
    reservation_id = account_pool_reserved(pool=pool).pk
    rows = list(
        Account.objects.select_for_update()
        .filter(pool_id=pool.pk, kind=AccountKind.POOL_RESERVED)
        .order_by("pk")  # the order every posting locks accounts in
    )
    reservation = next(row for row in rows if row.pk == reservation_id)
    spent = [row for row in rows if row.pk != reservation_id and row.balance != 0]
    if spent:
        folded = sum((row.balance for row in spent), Decimal(0))
        ledger_post(
            kind=TransactionKind.POOL_SETTLE,
            legs=[(row, -row.balance) for row in spent] + [(reservation, folded)],
            pool=pool,
            memo="answers paid since the last settlement",
        )
        reservation.balance += folded  # the row is locked: nothing else moved it meanwhile
    return reservation


def account_worker_available(*, user: User | None = None, user_id: int | None = None) -> Account:
    uid = user.pk if user is not None else user_id
    return _account(key=f"worker:{uid}:available", kind=AccountKind.WORKER_AVAILABLE, user_id=uid)


def account_worker_pending(*, user: User | None = None, user_id: int | None = None) -> Account:
    uid = user.pk if user is not None else user_id
    return _account(key=f"worker:{uid}:pending", kind=AccountKind.WORKER_PENDING, user_id=uid)


# ------------------------------------------------------------------------------------------------ posting

# On PostgreSQL a posting is one statement: insert the transaction (or find that its idempotency key was
# already posted), insert its entries, lock its accounts in ascending id order, and move their cached
# balances, refusing any that would go below zero. One round trip keeps the rows every submit touches
# (the pool's reservation) locked for as short a time as possible.
_POST_SQL = """
WITH legs(account_id, amount) AS (SELECT * FROM unnest(%(accounts)s::bigint[], %(amounts)s::numeric[])),
txn AS (
    INSERT INTO payouts_ledgertransaction (kind, created_at, idempotency_key, memo, pool_id)
    VALUES (%(kind)s, %(created_at)s, %(key)s, %(memo)s, %(pool)s)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id
),
entries AS (
    INSERT INTO payouts_entry (transaction_id, account_id, amount)
    SELECT txn.id, legs.account_id, legs.amount FROM txn, legs
),
locked AS MATERIALIZED (
    SELECT a.id FROM payouts_account a
    WHERE a.id IN (SELECT account_id FROM legs) AND EXISTS (SELECT 1 FROM txn)
    ORDER BY a.id FOR UPDATE
),
moved AS (
    UPDATE payouts_account a SET balance = a.balance + legs.amount
    FROM locked, legs
    WHERE a.id = locked.id AND legs.account_id = a.id
      AND (a.may_go_negative OR legs.amount >= 0 OR a.balance + legs.amount >= 0)
    RETURNING a.id
)
SELECT (SELECT id FROM txn), ARRAY(SELECT id FROM moved)
"""


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
    pays for (an answer, a pool opening) or not at all. It sets no savepoint of its own: after an
    InsufficientFunds the caller's transaction can only roll back (every caller refuses the whole request).
    With an idempotency key already posted, returns that first posting and moves nothing.
    """
    amounts: dict[int, Decimal] = {}
    accounts: dict[int, Account] = {}
    for account, amount in legs:
        amounts[account.pk] = amounts.get(account.pk, Decimal(0)) + quantize(amount)
        accounts[account.pk] = account
    if sum(amounts.values(), Decimal(0)) != 0:
        raise ValueError(f"a {kind} transaction must sum to zero, got {sum(amounts.values())}")
    legs_by_account = {pk: amount for pk, amount in sorted(amounts.items()) if amount != 0}
    if not legs_by_account:
        raise ValueError("a transaction needs at least one non-zero amount")
    memo = memo[:255]
    with transaction.atomic(savepoint=False):
        return _post_in_one_statement(kind, legs_by_account, accounts, memo, pool, idempotency_key)


def _post_in_one_statement(
    kind: TransactionKind,
    legs: dict[int, Decimal],
    accounts: dict[int, Account],
    memo: str,
    pool: Pool | None,
    idempotency_key: str | None,
) -> LedgerTransaction:
    created_at = timezone.now()
    with prepared_cursor() as cursor:
        cursor.execute(
            _POST_SQL,
            {
                "accounts": list(legs),
                "amounts": list(legs.values()),
                "kind": str(kind),
                "created_at": created_at,
                "key": idempotency_key,
                "memo": memo,
                "pool": pool.pk if pool is not None else None,
            },
        )
        txn_id, moved = cursor.fetchone()
    if txn_id is None:  # this idempotency key was posted before: nothing moved now
        return LedgerTransaction.objects.get(idempotency_key=idempotency_key)
    refused = [pk for pk in legs if pk not in set(moved)]
    if refused:
        raise _insufficient(accounts[refused[0]], legs[refused[0]])
    txn = LedgerTransaction(
        id=txn_id, kind=kind, created_at=created_at, idempotency_key=idempotency_key, memo=memo, pool=pool
    )
    txn._state.adding = False
    txn._state.db = DEFAULT_DB_ALIAS
    return txn


def _insufficient(account: Account, amount: Decimal) -> InsufficientFunds:
    """The refusal, with what the account holds (it was not changed by the refused posting)."""
    available = Account.objects.filter(pk=account.pk).values_list("balance", flat=True).get()
    return InsufficientFunds(account=account, needed=-amount, available=available)


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


# -------------------------------------------------------------------------------------------- reservations


def _short_of_money(*, exc: InsufficientFunds, needed: Decimal, message: str) -> ServiceError:
    return ServiceError(
        code="insufficient_funds",
        message=message,
        status_code=402,
        details={"needed": money_str(needed), "available": money_str(exc.available)},
    )


def pool_reserve(*, pool: Pool, regular_slots: int) -> int:
    """Move the cost of `regular_slots` answers (and their golden share) from the requester into the pool's
    reservation, in the caller's transaction; returns the golden places paid for. 402 if the money is short."""
    cost = answers_cost(reward=pool.reward, golden_rate=pool.golden_rate, regular=regular_slots)
    golden_slots, amount = cost.golden, cost.total
    if amount > 0:
        try:
            ledger_post(
                kind=TransactionKind.POOL_RESERVE,
                legs=[
                    (account_requester_available(user=pool.requester), -amount),
                    (account_pool_reserved(pool=pool), amount),
                ],
                pool=pool,
                memo=f"{regular_slots} answers and {golden_slots} golden answers at {money_str(pool.reward)}",
            )
        except InsufficientFunds as exc:
            raise _short_of_money(
                exc=exc,
                needed=amount,
                message=(
                    f"Opening this needs {money_str(amount)} (rewards plus the platform fee) and your account "
                    f"holds {money_str(exc.available)}. Deposit {money_str(amount - exc.available)} more."
                ),
            ) from exc
    return golden_slots


def pool_reserve_for_reward(*, pool: Pool, reward: Decimal, unpaid_places: int) -> None:
    """Top the reservation up so that every unpaid place can be paid at `reward`, in the caller's transaction
    (the one that raises the reward); 402 if the requester's money is short."""
    reserved = pool_reservation_settle(pool=pool)
    extra = cost_per_answer(reward) * unpaid_places - reserved.balance
    if extra <= 0:
        return
    try:
        ledger_post(
            kind=TransactionKind.POOL_RESERVE,
            legs=[(account_requester_available(user=pool.requester), -extra), (reserved, extra)],
            pool=pool,
            memo=f"reward raised to {money_str(reward)} for {unpaid_places} unpaid places",
        )
    except InsufficientFunds as exc:
        raise _short_of_money(
            exc=exc,
            needed=extra,
            message=(
                f"Raising the reward to {money_str(reward)} needs {money_str(extra)} more for the "
                f"{unpaid_places} places still to pay, and your account holds {money_str(exc.available)}."
            ),
        ) from exc


def pool_reservation_release(*, pool: Pool, memo: str) -> None:
    """What the reservation still holds goes back to the requester (a pool closing or completing)."""
    reserved = pool_reservation_settle(pool=pool)
    if reserved.balance > 0:
        ledger_post(
            kind=TransactionKind.POOL_RELEASE,
            legs=[
                (reserved, -reserved.balance),
                (account_requester_available(user=pool.requester), reserved.balance),
            ],
            pool=pool,
            memo=memo,
        )


# ------------------------------------------------------------------------------------------------ answers


def answer_credit(*, answer: Answer, pool: Pool) -> LedgerTransaction:
    """Pay for a just-submitted answer from the pool's reservation, inside the submit's transaction.

    The worker gets the whole reward (available at once, or pending while the requester reviews); the fee
    on top goes to the platform. InsufficientFunds if the reservation was released (the pool stopped).
    """
    fee = fee_for(answer.reward)
    if answer.status == AnswerStatus.PENDING:
        to_worker = account_worker_pending(user_id=answer.worker_id)
    else:
        to_worker = account_worker_available(user_id=answer.worker_id)
    return ledger_post(
        kind=TransactionKind.ANSWER_REWARD,
        legs=[
            (account_pool_spent(pool=pool, shard=answer.worker_id), -(answer.reward + fee)),
            (to_worker, answer.reward),
            (account_platform_fees(shard=answer.worker_id), fee),
        ],
        pool=pool,
        idempotency_key=f"answer:{answer.pk}",
        memo=f"answer {answer.pk} to task {answer.task_id}",
    )


def _answer_for_review(*, requester: User, answer_id: int) -> Answer:
    """The requester's pending answer, locked; 404 for anyone else's, 409 once reviewed."""
    answer = (
        Answer.objects.select_for_update(of=("self",))
        .select_related("pool")
        .filter(pk=answer_id, pool__requester=requester)
        .first()
    )
    if answer is None:
        raise ServiceError(code="not_found", message="No such answer in your pools.", status_code=404)
    if answer.status != AnswerStatus.PENDING:
        raise ServiceError(
            code="already_reviewed",
            message=f"This answer was already {answer.status}.",
            status_code=409,
            details={"status": answer.status},
        )
    return answer


def review_deadline(*, answer: Answer, pool: Pool) -> datetime:
    return answer.submitted_at + timedelta(hours=pool.review_hours)


def _accept(*, pool: Pool, answers: Sequence[Answer], now: datetime, memo: str) -> int:
    """Move the rewards of locked, pending answers from the workers' pending to their available balances."""
    if not answers:
        return 0
    Answer.objects.filter(pk__in=[a.pk for a in answers]).update(
        status=AnswerStatus.ACCEPTED, reviewed_at=now
    )
    per_worker: dict[int, Decimal] = defaultdict(Decimal)
    for answer in answers:
        per_worker[answer.worker_id] += answer.reward
    legs: list[tuple[Account, Decimal]] = []
    for worker_id, total in sorted(per_worker.items()):
        legs.append((account_worker_pending(user_id=worker_id), -total))
        legs.append((account_worker_available(user_id=worker_id), total))
    # One posting for the whole batch: its accounts are locked in one sorted pass, so bulk accepts running
    # beside submits and withdrawals cannot deadlock.
    ledger_post(kind=TransactionKind.ANSWER_ACCEPT, legs=legs, pool=pool, memo=memo)
    return len(answers)


@transaction.atomic(durable=True)
def answer_accept(*, requester: User, answer_id: int) -> Answer:
    answer = _answer_for_review(requester=requester, answer_id=answer_id)
    now = timezone.now()
    _accept(pool=answer.pool, answers=[answer], now=now, memo=f"answer {answer.pk} accepted")
    answer.status, answer.reviewed_at = AnswerStatus.ACCEPTED, now
    return answer


@transaction.atomic(durable=True)
def answers_accept_bulk(*, requester: User, pool: Pool) -> int:
    """Accept every answer of the pool still waiting for review (the one-click "accept all")."""
    if pool.requester_id != requester.pk:
        raise ServiceError(code="not_found", message="No such pool.", status_code=404)
    answers = list(
        Answer.objects.select_for_update()
        .filter(pool=pool, status=AnswerStatus.PENDING)
        .order_by("id")
        .only("id", "worker_id", "reward", "pool_id")
    )
    return _accept(pool=pool, answers=answers, now=timezone.now(), memo=f"{len(answers)} answers accepted")


REJECT_REASON_MAX = 2000


@transaction.atomic
def answer_reject(*, requester: User, answer_id: int, reason: str) -> Answer:
    """Refuse an answer: its reward and fee go back to the pool, and so does the task's place.

    The worker sees the reason. Only within the review window: after it, the answer is the worker's.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(code="reason_required", message="Tell the worker why: a rejection needs a reason.")
    if len(reason) > REJECT_REASON_MAX:
        raise ServiceError(
            code="reason_too_long", message=f"Keep the reason under {REJECT_REASON_MAX} characters."
        )
    answer = _answer_for_review(requester=requester, answer_id=answer_id)
    now = timezone.now()
    # Locked so that a pool closing at this moment releases its reservation before or after us, never
    # between our reading its status and paying back into it. NO KEY UPDATE: the inserts that reference the
    # pool (answers, postings) take KEY SHARE on it, which a plain FOR UPDATE would block.
    pool = Pool.objects.select_for_update(no_key=True).get(pk=answer.pool_id)
    deadline = review_deadline(answer=answer, pool=pool)
    if now >= deadline:
        raise ServiceError(
            code="review_window_closed",
            message="The review window for this answer has ended, so it is accepted.",
            status_code=409,
            details={"deadline": deadline.isoformat()},
        )
    Answer.objects.filter(pk=answer.pk).update(
        status=AnswerStatus.REJECTED, reviewed_at=now, reject_reason=reason
    )
    # The place goes back: another worker may answer the task, paid from the money returned below. Rows of
    # tasks are changed before the accounts are locked, in the same order as a submit, so the two never
    # wait on each other in a cycle.
    answer_place_return(answer=answer)
    # Reverse exactly what the submit posted (the fee rate may have changed since), except that the pool's
    # share goes back to its reservation, or to the requester if the pool has stopped and released it.
    posted = list(
        Entry.objects.filter(transaction__idempotency_key=f"answer:{answer.pk}")
        .exclude(account__kind=AccountKind.POOL_RESERVED)
        .select_related("account")
    )
    if pool.status in (PoolStatus.OPEN, PoolStatus.PAUSED):
        back_to = account_pool_reserved(pool=pool)
    else:
        back_to = account_requester_available(user_id=pool.requester_id)
    legs = [(entry.account, -entry.amount) for entry in posted]
    legs.append((back_to, sum((entry.amount for entry in posted), Decimal(0))))
    ledger_post(
        kind=TransactionKind.ANSWER_REJECT,
        legs=legs,
        pool=pool,
        idempotency_key=f"answer:{answer.pk}:reject",
        memo=f"answer {answer.pk} rejected",
    )
    answer.status, answer.reviewed_at, answer.reject_reason = AnswerStatus.REJECTED, now, reason
    return answer


def answer_reinstate_pay(*, answer: Answer, pool: Pool, from_reservation: bool) -> tuple[Decimal, Decimal]:
    """Pay a rejected answer after all, reversing its rejection's posting; returns (reward, fee) paid.

    The money comes from the pool's reservation when the answer took its place back in a running pool, else
    from the requester's balance: 402 when that cannot cover it, and nothing is posted.
    """
    refunded = dict(
        Entry.objects.filter(transaction__idempotency_key=f"answer:{answer.pk}:reject")
        .values_list("account__kind")
        .annotate(total=Sum("amount"))
    )
    reward = -refunded.get(AccountKind.WORKER_PENDING, Decimal(0)) or answer.reward
    fee = -refunded.get(AccountKind.PLATFORM_FEES, Decimal(0))
    source = (
        account_pool_reserved(pool=pool)
        if from_reservation
        else account_requester_available(user_id=pool.requester_id)
    )
    legs = [(source, -(reward + fee)), (account_worker_available(user_id=answer.worker_id), reward)]
    if fee:
        legs.append((account_platform_fees(), fee))
    try:
        ledger_post(
            kind=TransactionKind.REVERSAL,
            legs=legs,
            pool=pool,
            idempotency_key=f"answer:{answer.pk}:reinstate",
            memo=f"answer {answer.pk} reinstated on appeal",
        )
    except InsufficientFunds as exc:
        raise ServiceError(
            code="insufficient_funds",
            message=(
                f"Paying this answer back needs {money_str(reward + fee)} and the balance holds "
                f"{money_str(exc.available)}. Deposit the difference, then decide the appeal."
            ),
            status_code=402,
            details={"needed": money_str(reward + fee), "available": money_str(exc.available)},
        ) from exc
    return reward, fee


def pool_reservation_cover_from_requester(*, pool: Pool, reservation: Account, needed: Decimal) -> Decimal:
    """Move what the requester's balance holds, up to `needed`, into the pool's reservation; returns the amount.

    For pay-floor top-ups: the floor is the requester's promise, not the reservation's.
    """
    requester = Account.objects.select_for_update().get(
        pk=account_requester_available(user_id=pool.requester_id).pk
    )
    extra = min(needed, requester.balance)
    if extra > 0:
        ledger_post(
            kind=TransactionKind.POOL_RESERVE,
            legs=[(requester, -extra), (reservation, extra)],
            pool=pool,
            memo="top-up to the pay floor: what the reservation could not cover",
        )
    return max(extra, Decimal(0))


def worker_top_up_pay(*, pool: Pool, reservation: Account, worker_id: int, amount: Decimal) -> None:
    """Pay a worker what the pay floor owes them for a pool, from its reservation, once (no platform fee)."""
    ledger_post(
        kind=TransactionKind.TOP_UP,
        legs=[(reservation, -amount), (account_worker_available(user_id=worker_id), amount)],
        pool=pool,
        idempotency_key=f"top_up:{pool.pk}:{worker_id}",
        memo=f"top-up to the pay floor in pool {pool.pk}",
    )


def answers_auto_accept_expired(*, now: datetime | None = None, batch: int = 2000) -> int:
    """Accept whatever is still pending when its pool's review window ends. Safe to run any number of times."""
    now = now or timezone.now()
    pool_ids = list(
        Answer.objects.filter(status=AnswerStatus.PENDING).values_list("pool_id", flat=True).distinct()
    )
    accepted = 0
    for pool in Pool.objects.filter(pk__in=pool_ids).order_by("id"):
        cutoff = now - timedelta(hours=pool.review_hours)
        while True:
            with transaction.atomic():
                # SKIP LOCKED: an answer the requester is reviewing right now is left to them.
                answers = list(
                    Answer.objects.select_for_update(skip_locked=True)
                    .filter(pool=pool, status=AnswerStatus.PENDING, submitted_at__lte=cutoff)
                    .order_by("id")
                    .only("id", "worker_id", "reward", "pool_id")[:batch]
                )
                done = _accept(
                    pool=pool,
                    answers=answers,
                    now=now,
                    memo=f"{len(answers)} answers accepted: the {pool.review_hours} h review window ended",
                )
            accepted += done
            if done < batch:
                break
    return accepted


# ------------------------------------------------------------------------------------------------ withdrawals


@transaction.atomic(durable=True)
def withdrawal_create(*, worker: User, amount: Decimal, request_key: str | None = None) -> Withdrawal:
    """Take the amount out of the worker's available balance now; an actor pays it after commit.

    A repeated request with the same request_key (the Idempotency-Key header) returns the first withdrawal.
    """
    if not worker.is_worker:
        raise ServiceError(
            code="permission_denied", message="Only workers withdraw earnings.", status_code=403
        )
    amount = quantize(amount)
    if amount <= 0:
        raise ServiceError(code="invalid_amount", message="amount must be greater than zero")
    if request_key is not None:
        earlier = Withdrawal.objects.filter(worker=worker, request_key=request_key).first()
        if earlier is not None:
            return _same_request(earlier, amount)
    now = timezone.now()
    try:
        with transaction.atomic():
            withdrawal = Withdrawal.objects.create(
                worker=worker,
                amount=amount,
                idempotency_key=f"fl-wd-{uuid.uuid4().hex}",
                request_key=request_key,
                provider=settings.PAYOUT_PROVIDER,
                next_attempt_at=now,
            )
    except IntegrityError:  # the same request, sent twice at once: the other one won
        return _same_request(Withdrawal.objects.get(worker=worker, request_key=request_key), amount)
    try:
        ledger_post(
            kind=TransactionKind.WITHDRAWAL,
            legs=[
                (account_worker_available(user=worker), -amount),
                (account_withdrawals_in_flight(), amount),
            ],
            idempotency_key=f"withdrawal:{withdrawal.pk}",
            memo=f"withdrawal {withdrawal.pk} requested",
        )
    except InsufficientFunds as exc:
        raise ServiceError(
            code="insufficient_funds",
            message=f"You can withdraw up to {money_str(exc.available)}.",
            status_code=402,
            details={"available": money_str(exc.available), "requested": money_str(amount)},
        ) from exc
    # If the broker is down the row still exists and withdrawals_resume sends it later.
    transaction.on_commit(partial(_send_payment, withdrawal.pk, 0), robust=True)
    return withdrawal


def _same_request(earlier: Withdrawal, amount: Decimal) -> Withdrawal:
    if earlier.amount != amount:
        raise ServiceError(
            code="idempotency_key_reused",
            message="This Idempotency-Key was already used for a withdrawal of another amount.",
            status_code=409,
            details={"withdrawal": earlier.pk},
        )
    return earlier


def _send_payment(withdrawal_id: int, delay_seconds: float) -> None:
    enqueue("withdrawal_pay", withdrawal_id, delay_seconds=delay_seconds)


def retry_delay(*, attempts: int) -> float:
    """Seconds before the next attempt: PAYOUT_RETRY_BACKOFF, doubled per attempt, at most an hour."""
    return min(3600.0, settings.PAYOUT_RETRY_BACKOFF * 2 ** max(0, attempts - 1))


# A namespace for pg_advisory_lock(int, int), so our locks never collide with another feature's.
_PAYOUT_LOCK_SPACE = 0x5041  # "PA"


@contextmanager
def _payout_lock(withdrawal_id: int) -> Iterator[bool]:
    """Only one process talks to the provider about a withdrawal at a time.

    A session advisory lock: if the process holding it dies (SIGKILL), the server drops its connection and the
    lock with it, so a retry can start at once.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_PAYOUT_LOCK_SPACE, withdrawal_id])
        acquired = bool(cursor.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_PAYOUT_LOCK_SPACE, withdrawal_id])


def withdrawal_pay(*, withdrawal_id: int) -> Withdrawal | None:
    """One attempt to pay a withdrawal; safe to call any number of times, from any number of processes.

    The provider call happens outside any transaction of ours, with the withdrawal's idempotency key: if
    this process dies after the provider paid but before we recorded it, the next attempt presents the same
    key and the provider answers with the first payment instead of paying again. A withdrawal is only
    marked failed (and the money returned) when the provider says plainly that it did not pay; an error
    that leaves the outcome unknown is retried, never treated as a refusal.
    Returns the withdrawal after the attempt, or None if there was nothing to do now.
    """
    with _payout_lock(withdrawal_id) as acquired:
        if not acquired:  # another worker is on it; if it dies, withdrawals_resume sends this again
            return None
        withdrawal = _attempt_begin(withdrawal_id=withdrawal_id)
        if withdrawal is None:
            return None
        provider = provider_for(withdrawal.provider)
        request = PayoutRequest(
            idempotency_key=withdrawal.idempotency_key,
            withdrawal_id=withdrawal.pk,
            amount=withdrawal.amount,
            currency=settings.PLATFORM_CURRENCY,
            payee_id=withdrawal.worker_id,
            payee_username=withdrawal.worker.username,
            payee_email=withdrawal.worker.email,
            requested_at=withdrawal.created_at,
        )
        try:
            receipt = provider.pay(request)
        except PayoutFailed as exc:
            return _attempt_failed(withdrawal_id=withdrawal.pk, reason=exc.reason, final=not exc.retryable)
        except Exception as exc:
            log.exception(
                "payout provider %s: outcome unknown for withdrawal %s", withdrawal.provider, withdrawal.pk
            )
            return _attempt_unknown(withdrawal_id=withdrawal.pk, error=f"{type(exc).__name__}: {exc}")
        return _attempt_paid(withdrawal_id=withdrawal.pk, reference=receipt.reference)


@transaction.atomic
def _attempt_begin(*, withdrawal_id: int) -> Withdrawal | None:
    now = timezone.now()
    withdrawal = (
        Withdrawal.objects.select_for_update(of=("self",))
        .select_related("worker")
        .filter(pk=withdrawal_id)
        .first()
    )
    if (
        withdrawal is None
        or withdrawal.status not in OPEN_WITHDRAWAL_STATUSES
        or withdrawal.next_attempt_at > now
    ):
        return None  # finished, or a retry is scheduled for later (a duplicate message)
    withdrawal.status = WithdrawalStatus.PROCESSING
    withdrawal.attempts += 1
    # A lease: if this attempt never reports back (its process was killed), it is due again after this.
    withdrawal.next_attempt_at = now + timedelta(seconds=settings.PAYOUT_ATTEMPT_TIMEOUT)
    withdrawal.save(update_fields=["status", "attempts", "next_attempt_at"])
    return withdrawal


def _locked_withdrawal(withdrawal_id: int) -> Withdrawal:
    return Withdrawal.objects.select_for_update().get(pk=withdrawal_id)


@transaction.atomic
def _attempt_paid(*, withdrawal_id: int, reference: str) -> Withdrawal:
    withdrawal = _locked_withdrawal(withdrawal_id)
    if withdrawal.status == WithdrawalStatus.PAID:
        return withdrawal
    if withdrawal.status == WithdrawalStatus.FAILED:  # impossible under the payout lock; say so loudly
        raise RuntimeError(
            f"withdrawal {withdrawal_id} was failed and refunded, yet the provider paid it ({reference})"
        )
    ledger_post(
        kind=TransactionKind.WITHDRAWAL_PAID,
        legs=[
            (account_withdrawals_in_flight(), -withdrawal.amount),
            (account_world_withdrawals(), withdrawal.amount),
        ],
        idempotency_key=f"withdrawal:{withdrawal.pk}:paid",
        memo=f"withdrawal {withdrawal.pk} paid by {withdrawal.provider}: {reference}"[:255],
    )
    withdrawal.status = WithdrawalStatus.PAID
    withdrawal.provider_reference = reference[:255]
    withdrawal.failure_reason = ""
    withdrawal.finished_at = timezone.now()
    withdrawal.save(update_fields=["status", "provider_reference", "failure_reason", "finished_at"])
    return withdrawal


@transaction.atomic
def _attempt_failed(*, withdrawal_id: int, reason: str, final: bool) -> Withdrawal:
    withdrawal = _locked_withdrawal(withdrawal_id)
    if withdrawal.status not in OPEN_WITHDRAWAL_STATUSES:
        return withdrawal
    now = timezone.now()
    if not final and withdrawal.attempts < settings.PAYOUT_MAX_ATTEMPTS:
        return _schedule_retry(withdrawal, now=now, note=reason)
    ledger_post(
        kind=TransactionKind.WITHDRAWAL_FAILED,
        legs=[
            (account_withdrawals_in_flight(), -withdrawal.amount),
            (account_worker_available(user_id=withdrawal.worker_id), withdrawal.amount),
        ],
        idempotency_key=f"withdrawal:{withdrawal.pk}:failed",
        memo=f"withdrawal {withdrawal.pk} failed; returned to the worker",
    )
    withdrawal.status = WithdrawalStatus.FAILED
    withdrawal.failure_reason = reason
    withdrawal.finished_at = now
    withdrawal.save(update_fields=["status", "failure_reason", "finished_at"])
    return withdrawal


@transaction.atomic
def _attempt_unknown(*, withdrawal_id: int, error: str) -> Withdrawal:
    withdrawal = _locked_withdrawal(withdrawal_id)
    if withdrawal.status not in OPEN_WITHDRAWAL_STATUSES:
        return withdrawal
    # The provider may have paid: giving the money back could pay twice, so keep retrying the same key.
    return _schedule_retry(
        withdrawal, now=timezone.now(), note=f"no clear answer from the provider ({error})"
    )


def _schedule_retry(withdrawal: Withdrawal, *, now: datetime, note: str) -> Withdrawal:
    delay = retry_delay(attempts=withdrawal.attempts)
    withdrawal.next_attempt_at = now + timedelta(seconds=delay)
    withdrawal.failure_reason = f"attempt {withdrawal.attempts} failed: {note}; trying again"
    withdrawal.save(update_fields=["next_attempt_at", "failure_reason"])
    transaction.on_commit(partial(_send_payment, withdrawal.pk, delay), robust=True)
    return withdrawal


def withdrawals_resume(*, limit: int = 500) -> int:
    """The safety net: send again every unfinished withdrawal whose next attempt is due.

    Catches a message the broker lost, a worker killed mid-attempt (its lease ran out) and a retry whose
    delayed message vanished. Duplicates are harmless: an attempt that is not due does nothing.
    """
    due = list(
        Withdrawal.objects.filter(status__in=OPEN_WITHDRAWAL_STATUSES, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for withdrawal_id in due:
        _send_payment(withdrawal_id, 0)
    return len(due)


# ------------------------------------------------------------------------------------------------ checks


def ledger_check_run(*, record: bool = True) -> LedgerReport:
    """Verify every ledger invariant; record the result for the admin site unless told not to."""
    report = ledger_report()
    if record:
        LedgerCheckRun.objects.create(
            ok=not report.problems, problems=report.problems, duration_ms=report.duration_ms
        )
    return report
