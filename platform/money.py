"""The one place that says how money is rounded and written."""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from django.conf import settings

# Ledger amounts carry 6 decimal places: a 10% fee on a 0.0001 reward is still exact.
LEDGER_QUANTUM = Decimal("0.000001")
# Amounts people type (rewards, deposits, withdrawals) carry at most 4 places (cents and fractions of a cent), and
# rewards are stored in numeric(INPUT_DIGITS, INPUT_PLACES) columns, so no typed amount can exceed what they hold.
INPUT_DIGITS = 12
INPUT_PLACES = 4
INPUT_MAX = Decimal(10) ** (INPUT_DIGITS - INPUT_PLACES) - Decimal(10) ** -INPUT_PLACES
# Length-bounded, so a megabyte of digits is refused before it is converted.
_MONEY = re.compile(rf"[0-9]{{1,40}}(\.[0-9]{{1,{INPUT_PLACES}}})?")


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


class MoneyError(ValueError):
    """An amount refused. `str()` is the API's message, naming the field; `plain` says it to a person at a form."""

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind

    @property
    def plain(self) -> str:
        # Read when a page shows it, not when raised: settings itself parses an amount while it loads.
        currency = settings.PLATFORM_CURRENCY
        return {
            "format": f"Enter an amount in {currency} such as 0.03: digits with a point, at most "
            f"{INPUT_PLACES} decimals.",
            "zero": f"Enter an amount above 0 {currency}.",
            "too_large": f"Enter an amount of at most {INPUT_MAX} {currency}.",
            "cents": f"Enter the amount in whole cents, such as 12.50 {currency}.",
        }[self.kind]


def parse_money(value: object, *, field: str, allow_zero: bool = False) -> Decimal:
    """Money a person sent: exactly the API's documented pattern, ^[0-9]+(\\.[0-9]{1,4})?$, as a string.

    Decimal() alone would also take "1e-2", "+0.05", "5.", " 0.05 ", a JSON number (a float, already rounded)
    and other scripts' digits (Arabic-Indic zero, point, five read as 0.5); none of those is what a person typing an amount means, so each is
    refused rather than guessed at. The upper bound is what a reward column holds, the narrowest column any
    typed amount is written to.
    """
    if isinstance(value, str) and value.startswith("-") and _MONEY.fullmatch(value[1:]):
        raise MoneyError(f"{field} must be greater than zero", kind="zero")
    if not isinstance(value, str) or not _MONEY.fullmatch(value):
        raise MoneyError(
            f'{field} must be a decimal string such as "0.025" (digits, at most {INPUT_PLACES} decimals)',
            kind="format",
        )
    amount = Decimal(value)
    if amount == 0 and not allow_zero:
        raise MoneyError(f"{field} must be greater than zero", kind="zero")
    if amount > INPUT_MAX:
        raise MoneyError(f"{field} must be at most {INPUT_MAX}", kind="too_large")
    return amount


CENT = Decimal("0.01")


def parse_cents(value: object, *, field: str) -> Decimal:
    """Money a bank can pay: whole cents (earnings may hold fractions of a cent; those stay available)."""
    amount = parse_money(value, field=field)
    if amount != amount.quantize(CENT):
        raise MoneyError(f'{field} must be in whole cents, such as "12.50"', kind="cents")
    return amount


def cents_floor(amount: Decimal) -> Decimal:
    """The most of `amount` a bank can pay out."""
    return amount.quantize(CENT, rounding=ROUND_DOWN)
