"""The one place that says how money is rounded and written."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings

# Ledger amounts carry 6 decimal places: a 10% fee on a 0.0001 reward is still exact.
LEDGER_QUANTUM = Decimal("0.000001")
# Rewards and deposits people type carry at most 4 (cents and fractions of a cent).
INPUT_PLACES = 4


def quantize(amount: Decimal) -> Decimal:
    return amount.quantize(LEDGER_QUANTUM, rounding=ROUND_HALF_UP)


def fee_for(reward: Decimal) -> Decimal:
    """The platform fee the requester pays on top of a reward; the worker keeps the whole reward."""
    return quantize(reward * settings.PLATFORM_FEE_RATE)


def cost_per_answer(reward: Decimal) -> Decimal:
    return quantize(reward) + fee_for(reward)


def money_str(amount: Decimal) -> str:
    """'0.025', '10.00', '0.0025': at least cents, no trailing zeros beyond them."""
    amount = quantize(amount)
    text = format(amount.normalize(), "f")
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    if len(frac) < 2:
        frac = frac.ljust(2, "0")
    return f"{whole}.{frac}"


def parse_money(value: object, *, field: str, allow_zero: bool = False) -> Decimal:
    """Parse a decimal string a person sent; ValueError with a readable message when it is not money."""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise ValueError(f'{field} must be a decimal string such as "0.025"')
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f'{field} must be a decimal string such as "0.025"') from exc
    if not amount.is_finite():
        raise ValueError(f"{field} must be a finite amount")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > INPUT_PLACES:
        raise ValueError(f"{field} has more than {INPUT_PLACES} decimal places")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise ValueError(f"{field} must be greater than zero")
    if amount >= Decimal("1000000000"):
        raise ValueError(f"{field} is too large")
    return amount


CENT = Decimal("0.01")


def parse_cents(value: object, *, field: str) -> Decimal:
    """Money a bank can pay: whole cents (earnings may hold fractions of a cent; those stay available)."""
    amount = parse_money(value, field=field)
    if amount != amount.quantize(CENT):
        raise ValueError(f'{field} must be in whole cents, such as "12.50"')
    return amount


def cents_floor(amount: Decimal) -> Decimal:
    """The most of `amount` a bank can pay out."""
    return amount.quantize(CENT, rounding=ROUND_DOWN)
