"""Claiming work: which task a worker gets next, taken so that no task is ever over-assigned.

Correct by construction, whatever requests run at the same time:
- a claim takes a place from `Task.remaining` under `FOR UPDATE SKIP LOCKED`, and the check constraint
  `remaining >= 0` makes a negative count, and so an extra answer, impossible;
- the unique (task, worker) index stops any repeat: a skipped, expired or golden task never comes back;
- the partial unique index on (worker) for active assignments allows one task in hand per worker, so two
  claims by the same worker at once cannot both succeed (the loser is given the winner's assignment).

Expired assignments give their place back without any sweep: the next claimer in the pool takes the place over
(the old assignment becomes `expired`, `remaining` is unchanged), and a worker's own expired assignment is
expired before they claim again. The periodic tidy-up only keeps the table honest.

A claim in a pool is one hand-written statement (`_REGULAR_SQL` or `_GOLDEN_SQL`) rather than the ORM's five or
six round trips: the statement executes in about 0.3 ms and its cost does not depend on the pool's size, so the
whole claim is a few milliseconds of Python (docs/benchmarks.md, "Assignment").
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import F

from accounts.models import User
from fairlabel.sql import prepared_cursor
from tasks.models import Assignment, AssignmentStatus, Pool, Task


def golden_due(*, worker_id: int, pool: Pool, claimed: int, golden_claimed: int) -> bool:
    """Is this worker's next task in the pool a golden one, given what they have claimed there so far?

    The worker's stream is cut into blocks of about 1/golden_rate tasks; each block holds one golden item at
    a position drawn from a hash of (worker, pool, block), so the first block always includes one and the
    position cannot be predicted. If no golden item could be served at its position, the next task tries again.
    """
    if pool.golden_rate <= 0:
        return False
    block_size = max(1, round(1 / pool.golden_rate))
    block, offset = divmod(claimed, block_size)
    if golden_claimed > block:
        return False
    digest = hashlib.blake2b(f"{worker_id}:{pool.pk}:{block}".encode(), digest_size=8).digest()
    return offset >= int.from_bytes(digest, "big") % block_size


def assignment_held(*, worker: User, now: datetime) -> Assignment | None:
    """The worker's unexpired active assignment, if any. An expired one is expired here, its place returned."""
    with prepared_cursor() as cursor:
        # Raw SQL because this runs before every claim and usually finds nothing: the ORM would cost more
        # Python than the query costs the database. The partial unique index on active assignments serves it.
        cursor.execute(
            # 'active' is written out: a prepared statement's generic plan can use the partial index on active
            # assignments only if the status is in the statement, not a parameter.
            "SELECT id, expires_at > %s FROM tasks_assignment WHERE worker_id = %s AND status = 'active'",
            [connection.ops.adapt_datetimefield_value(now), worker.pk],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    if row[1]:
        return Assignment.objects.select_related("task", "pool").filter(pk=row[0]).first()
    expire_own_stale(worker=worker, now=now)
    return None


@transaction.atomic
def expire_own_stale(*, worker: User, now: datetime) -> None:
    """Give back the places of this worker's expired assignments (no sweep needed for that)."""
    stale = list(
        Assignment.objects.select_for_update()
        .filter(worker=worker, status=AssignmentStatus.ACTIVE, expires_at__lte=now)
        .only("id", "task_id", "pool_id", "is_golden")
    )
    for assignment in stale:
        expire(assignment=assignment)


def expire(*, assignment: Assignment) -> None:
    """Mark a locked, active, expired assignment expired and return its place."""
    Assignment.objects.filter(pk=assignment.pk).update(status=AssignmentStatus.EXPIRED)
    if assignment.is_golden:
        Pool.objects.filter(pk=assignment.pool_id).update(golden_slots_left=F("golden_slots_left") + 1)
    else:
        Task.objects.filter(pk=assignment.task_id).update(remaining=F("remaining") + 1)


def claim_in_pool(*, pool: Pool, worker: User, now: datetime, counts: tuple[int, int]) -> Assignment | None:
    """A new assignment for the worker in this pool (golden when due), or None if the pool has nothing for them.

    `counts` is the worker's (claimed, golden_claimed) in the pool, as tasks.selectors.pools_open_with_counts
    brings them. Call it after `assignment_held` found nothing. Outside a transaction the claim statement
    commits by itself (it is the whole claim, so no BEGIN and COMMIT round trips); inside the caller's
    transaction it runs under a savepoint, so a claim refused by a unique index leaves that transaction usable.
    """
    if not connection.in_atomic_block:
        return _claim_sql(pool=pool, worker=worker, now=now, counts=counts)
    with transaction.atomic():
        return _claim_sql(pool=pool, worker=worker, now=now, counts=counts)


# The "seen" test is `NOT EXISTS (... OFFSET 0)`: the OFFSET keeps PostgreSQL from turning it into an anti-join,
# which it may plan as a scan of all of the worker's (or every) assignment per claim; as a per-row subplan it is
# one probe of the unique (task, worker) index for each candidate, and claimers only look at a few candidates.

_REGULAR_SQL = """
WITH open_pool AS (
    -- A key-share lock on the pool row: closing or pausing the pool (which locks it FOR UPDATE) waits for
    -- this claim to commit and then cancels what it took; a claim that starts after a close re-reads the
    -- status here and takes nothing. Claims do not block one another with it.
    SELECT id FROM tasks_pool WHERE id = %(pool)s AND status = 'open' FOR KEY SHARE
), expired AS (
    -- A place left behind by an expired assignment comes first: its task is already under way.
    SELECT a.id, a.task_id
    FROM tasks_assignment a
    WHERE EXISTS (SELECT 1 FROM open_pool)
      AND a.pool_id = %(pool)s AND a.status = 'active' AND NOT a.is_golden AND a.expires_at <= %(now)s
      AND NOT EXISTS (SELECT 1 FROM tasks_assignment s
                      WHERE s.task_id = a.task_id AND s.worker_id = %(worker)s OFFSET 0)
    ORDER BY a.expires_at
    LIMIT 1
    FOR UPDATE SKIP LOCKED
), released AS (
    UPDATE tasks_assignment a SET status = 'expired' FROM expired WHERE a.id = expired.id
    RETURNING a.task_id
), fresh AS (
    -- Otherwise a free place, fewest left first (tasks under way before new ones, so results arrive early).
    SELECT t.id
    FROM tasks_task t
    WHERE EXISTS (SELECT 1 FROM open_pool) AND NOT EXISTS (SELECT 1 FROM expired)
      AND t.pool_id = %(pool)s AND t.remaining > 0 AND t.golden_label IS NULL
      AND NOT EXISTS (SELECT 1 FROM tasks_assignment s
                      WHERE s.task_id = t.id AND s.worker_id = %(worker)s OFFSET 0)
    ORDER BY t.remaining, t.id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
), taken AS (
    UPDATE tasks_task t SET remaining = t.remaining - 1 FROM fresh WHERE t.id = fresh.id
    RETURNING t.id
), chosen AS (
    SELECT task_id FROM released UNION ALL SELECT id FROM taken
), created AS (
    INSERT INTO tasks_assignment (task_id, pool_id, worker_id, status, is_golden, created_at, expires_at)
    SELECT task_id, %(pool)s, %(worker)s, 'active', false, %(now)s, %(expires)s FROM chosen
    RETURNING id, task_id
), counted AS (
    INSERT INTO tasks_workerpoolstats
        (worker_id, pool_id, claimed, golden_claimed, answers, golden_answered, golden_correct)
    SELECT %(worker)s, %(pool)s, 1, 0, 0, 0, 0 FROM created
    ON CONFLICT (worker_id, pool_id) DO UPDATE SET claimed = tasks_workerpoolstats.claimed + 1
)
SELECT created.id, created.task_id, t.data FROM created JOIN tasks_task t ON t.id = created.task_id
"""

_GOLDEN_SQL = """
WITH picked AS (
    -- Golden items are shown to many workers, so no row lock: the least-answered one this worker has not seen.
    -- Among equally answered items each worker has an order of their own: counts move only when answers
    -- arrive, so with one shared order every worker claiming in the same seconds got the same item, and
    -- their submits then queued on its row (measured: golden submits took 14 times as long as others).
    SELECT t.id
    FROM tasks_task t
    WHERE t.pool_id = %(pool)s AND t.golden_label IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM tasks_assignment s
                      WHERE s.task_id = t.id AND s.worker_id = %(worker)s OFFSET 0)
    ORDER BY t.answers_count, md5(t.id || ':' || %(worker)s)
    LIMIT 1
), slot AS (
    -- Golden answers are paid from the pool's reservation: take one of the slots it paid for, or serve none.
    -- The row lock also orders this claim with a close or pause, whose new status it re-reads.
    UPDATE tasks_pool SET golden_slots_left = golden_slots_left - 1
    WHERE id = %(pool)s AND status = 'open' AND golden_slots_left > 0 AND EXISTS (SELECT 1 FROM picked)
    RETURNING id
), created AS (
    INSERT INTO tasks_assignment (task_id, pool_id, worker_id, status, is_golden, created_at, expires_at)
    SELECT picked.id, %(pool)s, %(worker)s, 'active', true, %(now)s, %(expires)s FROM picked, slot
    RETURNING id, task_id
), counted AS (
    INSERT INTO tasks_workerpoolstats
        (worker_id, pool_id, claimed, golden_claimed, answers, golden_answered, golden_correct)
    SELECT %(worker)s, %(pool)s, 1, 1, 0, 0, 0 FROM created
    ON CONFLICT (worker_id, pool_id) DO UPDATE
        SET claimed = tasks_workerpoolstats.claimed + 1, golden_claimed = tasks_workerpoolstats.golden_claimed + 1
)
SELECT created.id, created.task_id, t.data FROM created JOIN tasks_task t ON t.id = created.task_id
"""


def _claim_sql(*, pool: Pool, worker: User, now: datetime, counts: tuple[int, int]) -> Assignment | None:
    expires_at = now + timedelta(seconds=pool.assignment_ttl)
    params: dict[str, int | datetime] = {
        "pool": pool.pk,
        "worker": worker.pk,
        "now": now,
        "expires": expires_at,
    }
    with prepared_cursor() as cursor:
        golden = False
        # golden_slots_left as read with the pool list: only a shortcut, the golden statement re-checks it.
        if pool.golden_rate > 0 and pool.golden_slots_left > 0:
            golden = golden_due(worker_id=worker.pk, pool=pool, claimed=counts[0], golden_claimed=counts[1])
        row = None
        if golden:
            cursor.execute(_GOLDEN_SQL, params)
            row = cursor.fetchone()
        if row is None:
            golden = False
            cursor.execute(_REGULAR_SQL, params)
            row = cursor.fetchone()
    if row is None:
        return None
    assignment_id, task_id, data = row
    # Built from the statement's own result rather than read back: the caller renders it as it is.
    task = Task.from_db(
        connection.alias,
        ["id", "pool_id", "data"],
        [task_id, pool.pk, json.loads(data) if isinstance(data, str) else data],
    )
    assignment = Assignment.from_db(
        connection.alias,
        ["id", "task_id", "pool_id", "worker_id", "status", "is_golden", "created_at", "expires_at"],
        [assignment_id, task_id, pool.pk, worker.pk, AssignmentStatus.ACTIVE.value, golden, now, expires_at],
    )
    assignment.task = task
    assignment.pool = pool
    assignment.worker = worker
    return assignment
