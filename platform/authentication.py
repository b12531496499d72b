"""API token authentication in one prepared statement, which is also the request's database health check.

DRF's TokenAuthentication runs `Token.objects.select_related("user").get(key=...)` on every request, and
because the settings turn on CONN_HEALTH_CHECKS, Django sends a `SELECT 1` before a request's first ORM
statement on a persistent connection. Profiled on the worker feed's realistic load (docs/benchmarks.md), the
lookup was a third of the servers' Python CPU, most of it the ORM building the same query each time, and each
request paid two round trips before its view ran. Here the lookup is one hand-written statement prepared once
per connection (fairlabel.sql), and it stands in for the health check: if the connection turns out to be dead
(the database restarted since the last request), it is closed and the lookup runs once more on a new one, which
is what the health check would have done, so a token request never fails on a stale connection and never pays
for the check separately.

Everything else is DRF's: the header's parsing, the 401 messages, (user, token) as request.user and request.auth.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import InterfaceError, OperationalError, connection
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from accounts.models import User
from fairlabel.rows import from_row, select_list
from fairlabel.sql import prepared_cursor


@cache
def _lookup_sql() -> str:
    return (
        f'SELECT t."created", {select_list(User, "u")} FROM "{Token._meta.db_table}" t '
        f'JOIN "{User._meta.db_table}" u ON u."id" = t."user_id" WHERE t."key" = %s'
    )


def _fetch(key: str) -> Any:
    with prepared_cursor() as cursor:
        cursor.execute(_lookup_sql(), [key])
        return cursor.fetchone()


def token_row(key: str) -> Any:
    """The token's creation time and its user's columns, or None; reconnects once if the connection is dead."""
    # The health check's flags are Django's (BaseDatabaseWrapper), not in its type stubs.
    db: Any = connection
    check_due = (
        db.connection is not None
        and db.health_check_enabled
        and not db.health_check_done
        and not db.in_atomic_block
    )
    try:
        row = _fetch(key)
    except (OperationalError, InterfaceError):
        if not check_due:
            raise
        db.close()
        row = _fetch(key)
    # This statement reached the database, so the check Django would have made before the next one is done.
    db.health_check_done = True
    return row


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[User, Token]:
        row = token_row(key)
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user = from_row(User, row[1:])
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token = Token.from_db(connection.alias, ["key", "user_id", "created"], [key, user.pk, row[0]])
        token.user = user
        return user, token
