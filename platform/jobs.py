"""Background jobs sent by their actor's name, so that services never import the actors that call them.

A service that changes state and wants work done after it commits calls `enqueue_on_commit("pool_aggregate",
pool_id)`: the message goes only if the transaction commits, and a rolled-back one sends nothing. The actor modules
are found by Django's own per-app discovery (`<app>/actors.py`) the first time a job is sent in a process.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import dramatiq
from django.db import transaction
from django.utils.module_loading import autodiscover_modules

_discovered = False


def enqueue(actor_name: str, *args: Any, delay_seconds: float | None = None) -> None:
    """Send a job now: after a commit, or where no transaction is open."""
    global _discovered
    if not _discovered:
        autodiscover_modules("actors")
        _discovered = True
    actor = dramatiq.get_broker().get_actor(actor_name)
    delay = int(delay_seconds * 1000) if delay_seconds else None
    actor.send_with_options(args=args, delay=delay)


def enqueue_on_commit(
    actor_name: str, *args: Any, delay_seconds: float | None = None, robust: bool = False
) -> None:
    """Send a job once the current transaction commits (at once outside one). `robust`: a failure to send is
    logged rather than raised, for work a periodic job would catch up on anyway."""
    transaction.on_commit(partial(enqueue, actor_name, *args, delay_seconds=delay_seconds), robust=robust)
