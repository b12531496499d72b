"""The database side of a submit: the assignment read under lock, then the answer and its counters written.

Each is one hand-written statement (the write is one statement with data-modifying CTEs), because the submit
is half of every task a worker does: through the ORM the same work was five queries and most of a request's
Python (docs/benchmarks.md, "Assignment"). The rules (which statuses may be submitted, which labels, what is correct) stay in tasks.services (answer_record).
"""

from __future__ import annotations

from django.db import connection

from accounts.models import User
from fairlabel.rows import from_row, select_list
from fairlabel.sql import prepared_cursor
from tasks.models import Answer, Assignment, AssignmentStatus, Pool, Task

# What a submit or a skip needs of the task: not its data, which may be large.
_TASK_FIELDS = ("id", "pool", "golden_label", "max_answers", "answers_count", "remaining")
_ASSIGNMENT_COLUMNS = len(Assignment._meta.concrete_fields)

_LOCKED_SQL = f"""
SELECT {select_list(Assignment, "a")}, {select_list(Task, "t", _TASK_FIELDS)}, {select_list(Pool, "p")}
FROM tasks_assignment a
JOIN tasks_task t ON t.id = a.task_id
JOIN tasks_pool p ON p.id = a.pool_id
WHERE a.id = %(assignment)s AND a.worker_id = %(worker)s
FOR UPDATE OF a
"""


def assignment_locked(*, worker: User, assignment_id: int) -> Assignment | None:
    """The worker's assignment with its task and pool, its row locked until the transaction ends."""
    with prepared_cursor() as cursor:
        cursor.execute(_LOCKED_SQL, {"assignment": assignment_id, "worker": worker.pk})
        row = cursor.fetchone()
    if row is None:
        return None
    task_end = _ASSIGNMENT_COLUMNS + len(_TASK_FIELDS)
    assignment = from_row(Assignment, row[:_ASSIGNMENT_COLUMNS])
    assignment.task = from_row(Task, row[_ASSIGNMENT_COLUMNS:task_end], _TASK_FIELDS)
    assignment.pool = from_row(Pool, row[task_end:])
    assignment.worker = worker
    return assignment


_ANSWER_FIELDS = [field for field in Answer._meta.concrete_fields if not field.primary_key]
_ANSWER_SQL = f"""
WITH answer AS (
    INSERT INTO tasks_answer ({", ".join(str(field.column) for field in _ANSWER_FIELDS)})
    VALUES ({", ".join(f"%(v{i})s" for i in range(len(_ANSWER_FIELDS)))}) RETURNING id
), assignment AS (
    UPDATE tasks_assignment SET status = %(submitted)s WHERE id = %(assignment)s
), task AS (
    UPDATE tasks_task SET answers_count = answers_count + 1 WHERE id = %(task)s
), stats AS (
    UPDATE tasks_workerpoolstats
    SET answers = answers + 1, golden_answered = golden_answered + %(golden)s,
        golden_correct = golden_correct + %(correct)s
    WHERE worker_id = %(worker)s AND pool_id = %(pool)s
)
SELECT id FROM answer
"""


def answer_write(*, answer: Answer) -> None:
    """Insert the (unsaved) answer, mark its assignment submitted and count it on the task and the worker."""
    values = {
        f"v{i}": field.get_db_prep_save(getattr(answer, field.attname), connection)
        for i, field in enumerate(_ANSWER_FIELDS)
    }
    with prepared_cursor() as cursor:
        cursor.execute(
            _ANSWER_SQL,
            {
                **values,
                "submitted": AssignmentStatus.SUBMITTED.value,
                "assignment": answer.assignment_id,
                "task": answer.task_id,
                "golden": int(answer.is_golden),
                "correct": int(bool(answer.correct)),
                "worker": answer.worker_id,
                "pool": answer.pool_id,
            },
        )
        (answer.pk,) = cursor.fetchone()
    answer._state.adding = False
    answer._state.db = connection.alias
