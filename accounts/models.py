from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models


class Role(models.TextChoices):
    WORKER = "worker", "Worker"
    REQUESTER = "requester", "Requester"
    ADMIN = "admin", "Admin"


class User(AbstractUser):
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.WORKER)
    # What requesters and exports see instead of the username; stays when personal data is erased.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    @property
    def is_worker(self) -> bool:
        return self.role == Role.WORKER

    @property
    def is_requester(self) -> bool:
        return self.role == Role.REQUESTER

    @property
    def pseudonym(self) -> str:
        return f"w-{self.public_id.hex[:16]}"
