from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Sum

from payouts.models import Account, AccountKind

if TYPE_CHECKING:
    from accounts.models import User


@dataclass(frozen=True)
class Balance:
    available: Decimal
    reserved: Decimal


def balance_for_user(*, user: User) -> Balance:
    """Requester: available and what their pools hold. Worker: available and pending (not yet available)."""
    rows = Account.objects.filter(user=user).values("kind").annotate(total=Sum("balance"))
    totals = {row["kind"]: row["total"] or Decimal(0) for row in rows}
    if user.is_requester:
        return Balance(
            available=totals.get(AccountKind.REQUESTER_AVAILABLE, Decimal(0)),
            reserved=totals.get(AccountKind.POOL_RESERVED, Decimal(0)),
        )
    return Balance(
        available=totals.get(AccountKind.WORKER_AVAILABLE, Decimal(0)),
        reserved=totals.get(AccountKind.WORKER_PENDING, Decimal(0)),
    )


def balance_by_kind() -> dict[str, Decimal]:
    rows = Account.objects.values("kind").annotate(total=Sum("balance"))
    return {row["kind"]: row["total"] or Decimal(0) for row in rows}
