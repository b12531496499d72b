from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

import factory
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts.models import Role, User
from payouts.services import deposit_create
from tasks.models import Answer, Assignment, AssignmentStatus, Pool, Task
from workflows.pools import pool_open

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    role = Role.WORKER
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def token(obj: User, create: bool, extracted: Any, **kwargs: Any) -> None:
        obj.save()
        Token.objects.get_or_create(user=obj)


class WorkerFactory(UserFactory):
    role = Role.WORKER
    username = factory.Sequence(lambda n: f"worker{n}")


class RequesterFactory(UserFactory):
    role = Role.REQUESTER
    username = factory.Sequence(lambda n: f"requester{n}")


class StaffFactory(UserFactory):
    role = Role.ADMIN
    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True
    is_superuser = True


class PoolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pool

    requester = factory.SubFactory(RequesterFactory)
    name = factory.Sequence(lambda n: f"Pool {n}")
    instructions = "Pick the label that fits."
    labels = ["OK", "Bad"]
    reward = Decimal("0.05")
    overlap = 1
    golden_rate = 0.0


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    pool = factory.SubFactory(PoolFactory)
    data = factory.Sequence(lambda n: {"text": f"item {n}"})
    golden_label = None
    max_answers = factory.LazyAttribute(lambda t: t.pool.overlap)
    remaining = factory.LazyAttribute(lambda t: 0 if t.golden_label else t.pool.overlap)


def fund(user: User, amount: str) -> None:
    deposit_create(user=user, amount=Decimal(amount))


def open_pool(
    *,
    requester: User | None = None,
    tasks: int = 3,
    golden: int | Sequence[str] = 0,
    reward: str = "0.10",
    overlap: int = 1,
    labels: Sequence[str] = ("OK", "Bad"),
    golden_rate: float = 0.0,
    fund_amount: str = "100",
    task_data: dict[str, Any] | None = None,
    **extra: Any,
) -> Pool:
    """An open pool of `tasks` regular items, its requester funded with `fund_amount` before opening.

    `golden` is a count (golden items whose true label is labels[0]) or the golden items' true labels.
    `task_data` is every regular item's data (the factory's "item n" by default); `extra` goes to PoolFactory.
    """
    if isinstance(golden, str):
        raise TypeError("golden is a count or a sequence of labels, not one label")
    golden_labels = [labels[0]] * golden if isinstance(golden, int) else list(golden)
    if requester is not None:
        extra["requester"] = requester
    pool = PoolFactory(
        reward=Decimal(reward), overlap=overlap, labels=list(labels), golden_rate=golden_rate, **extra
    )
    if task_data is None:
        TaskFactory.create_batch(tasks, pool=pool)
    else:
        TaskFactory.create_batch(tasks, pool=pool, data=task_data)
    for i, label in enumerate(golden_labels):
        # No "golden" in the data: tests check that nothing a worker sees gives a golden item away.
        TaskFactory(pool=pool, golden_label=label, data={"text": f"item g{i}"})
    fund(pool.requester, fund_amount)
    return pool_open(pool=pool)


def record_answer(task: Task, worker, label: str, *, golden: bool = False) -> Answer:
    """An answer row as the submit service leaves it (the export only reads these)."""
    now = timezone.now()
    assignment = Assignment.objects.create(
        task=task,
        pool=task.pool,
        worker=worker,
        status=AssignmentStatus.SUBMITTED,
        is_golden=golden,
        created_at=now,
        expires_at=now + timedelta(minutes=10),
    )
    return Answer.objects.create(
        assignment=assignment,
        task=task,
        pool=task.pool,
        worker=worker,
        label=label,
        submitted_at=now,
        duration_ms=1200,
        is_golden=golden,
        correct=(label == task.golden_label) if golden else None,
        reward=Decimal("0.05"),
    )
