"""Numbers people send, read in one place per kind and held to what the column that stores them can hold.

Python's int(), float() and Decimal() read far more than a person means: full-width and Arabic-Indic digits,
" 7 ", "1_000", "+5", "1e3", "inf". Each kind of number here reads exactly ASCII digits, and its bounds are never
wider than its column's, so a value that is accepted can always be written and read back: a value the database
cannot hold fails every later read of its row (a pool's reward read by every worker's feed), not just its write.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

from django.db import connection, models

BIGINT_MAX = 2**63 - 1
_WHOLE = re.compile(r"-?[0-9]+")
_REAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_ID = re.compile(r"[0-9]{1,19}")


class NumberError(ValueError):
    """A number that is not one, or out of range; the message names the field and says what is accepted."""


def int_range(field: models.Field[Any, Any]) -> tuple[int, int]:
    """The smallest and largest value an integer column holds, as the database backend states them."""
    low, high = connection.ops.integer_field_range(field.get_internal_type())
    return int(low), int(high)


def decimal_max(field: models.DecimalField[Any, Any]) -> Decimal:
    """The largest value a numeric(max_digits, decimal_places) column holds, e.g. 99999999.9999 for (12, 4)."""
    assert field.max_digits is not None and field.decimal_places is not None
    return Decimal(10) ** (field.max_digits - field.decimal_places) - Decimal(10) ** -field.decimal_places


def within(field: models.Field[Any, Any], low: int, high: int) -> tuple[int, int]:
    """`low` and `high`, checked to lie inside the column's range: a product bound can only narrow it."""
    column_low, column_high = int_range(field)
    if low < column_low or high > column_high:
        raise ValueError(f"{field} holds {column_low}..{column_high}; {low}..{high} does not fit")
    return low, high


def parse_whole(value: object, *, field: str, low: int, high: int) -> int:
    """A whole number from JSON (an integer) or a form or query string (ASCII digits, an optional minus)."""
    message = f"{field} must be a whole number from {low} to {high}"
    if isinstance(value, bool):
        raise NumberError(message)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and len(value) <= 40 and _WHOLE.fullmatch(value):
        number = int(value)
    else:
        raise NumberError(message)
    if not low <= number <= high:
        raise NumberError(message)
    return number


def whole_or_none(value: object) -> int | None:
    """A form field that should hold a whole number, or None when it does not: the service then says what range
    it takes. Only ASCII digits, so an Arabic-Indic five is not read as 5."""
    try:
        return parse_whole(value, field="value", low=-BIGINT_MAX, high=BIGINT_MAX)
    except NumberError:
        return None


def parse_real(value: object, *, field: str, low: float, high: float) -> float:
    """A finite number from JSON (an integer or a decimal) or a string of ASCII digits with an optional point."""
    message = f"{field} must be a number from {low:g} to {high:g}"
    if isinstance(value, bool):
        raise NumberError(message)
    if isinstance(value, int | float):
        number = float(value) if abs(value) < 1e300 else math.inf
    elif isinstance(value, str) and len(value) <= 40 and _REAL.fullmatch(value):
        number = float(value)
    else:
        raise NumberError(message)
    if not (math.isfinite(number) and low <= number <= high):
        raise NumberError(message)
    return number


def parse_id(value: object) -> int | None:
    """A row id (1 to the largest bigint), or None for anything that cannot be one: callers answer 404."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _ID.fullmatch(value):
        number = int(value)
    else:
        return None
    return number if 1 <= number <= BIGINT_MAX else None


class IdConverter:
    """`<id:pool_id>` in a URL: ids a database row can have; anything else matches no URL (404)."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = parse_id(value)
        if number is None:
            raise ValueError(value)
        return number

    def to_url(self, value: int) -> str:
        return str(value)
