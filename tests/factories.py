from __future__ import annotations

from decimal import Decimal
from typing import Any

import factory
from rest_framework.authtoken.models import Token

from accounts.models import Role, User
from payouts.services import deposit_create
from tasks.models import Pool, Task

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
