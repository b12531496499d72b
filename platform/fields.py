"""API fields for the kinds of number in fairlabel.numbers and fairlabel.money: DRF's own IntegerField and
FloatField read whatever int() and float() read (Arabic-Indic digits, "1_0", "1e3", 1e999 as infinity)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from fairlabel.money import INPUT_PLACES, money_str, parse_money
from fairlabel.numbers import NumberError, parse_real, parse_whole, within


@extend_schema_field(
    {"type": "string", "pattern": rf"^[0-9]+(\.[0-9]{{1,{INPUT_PLACES}}})?$", "example": "0.025"}
)
class MoneyField(serializers.Field):
    """A decimal string in and out ("0.025"); a JSON number, an exponent or another script's digits are refused."""

    default_error_messages = {"invalid": "{message}"}

    def to_internal_value(self, data: Any) -> Decimal:
        try:
            return parse_money(data, field=self.field_name or "amount")
        except ValueError as exc:
            self.fail("invalid", message=str(exc))
            raise  # unreachable: fail() raises

    def to_representation(self, value: Decimal) -> str:
        return money_str(value)


class WholeNumberField(serializers.IntegerField):
    """A whole number between `min_value` and `max_value`, which must fit the column it is written to."""

    default_error_messages = {"invalid": "{message}"}

    def __init__(
        self, *, column: models.Field[Any, Any], min_value: int, max_value: int, **kwargs: Any
    ) -> None:
        within(column, min_value, max_value)
        super().__init__(min_value=min_value, max_value=max_value, **kwargs)

    def to_internal_value(self, data: Any) -> int:
        assert self.min_value is not None and self.max_value is not None
        try:
            return parse_whole(
                data, field=self.field_name or "value", low=self.min_value, high=self.max_value
            )
        except NumberError as exc:
            self.fail("invalid", message=str(exc))
            raise  # unreachable: fail() raises


class RealNumberField(serializers.FloatField):
    """A finite number between `min_value` and `max_value` (a double column holds any finite value)."""

    default_error_messages = {"invalid": "{message}"}

    def __init__(self, *, min_value: float, max_value: float, **kwargs: Any) -> None:
        super().__init__(min_value=min_value, max_value=max_value, **kwargs)

    def to_internal_value(self, data: Any) -> float:
        assert self.min_value is not None and self.max_value is not None
        try:
            return parse_real(data, field=self.field_name or "value", low=self.min_value, high=self.max_value)
        except NumberError as exc:
            self.fail("invalid", message=str(exc))
            raise  # unreachable: fail() raises
