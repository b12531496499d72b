"""Model instances from rows of hand-written SQL, converted exactly as the ORM converts its own rows.

The assignment feed's hot path reads its rows with SQL (one statement where the ORM would need several, or a
statement the ORM cannot express) but hands model instances on to the rest of the code. Django's
`RawQuerySet` does this for one model per row; these helpers do it for a slice of a row, so one joined row can
become an assignment, its task and its pool. The converters (JSON text to objects, numeric to
quantized decimals, ...) are the ones the ORM's compiler would apply, looked up once per model and column list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

M = TypeVar("M", bound=Model)

Converter = Callable[[Any, Any, Any], Any]


def select_list(model: type[Model], alias: str, fields: Sequence[str] | None = None) -> str:
    """`alias.column, ...` for the named fields (all concrete fields by default), in the order given."""
    return ", ".join(f"{alias}.{column}" for column in _columns(model, tuple(fields) if fields else None))


def from_row(
    model: type[M],
    values: Sequence[Any],
    fields: Sequence[str] | None = None,
    *,
    using: str = DEFAULT_DB_ALIAS,
) -> M:
    """An instance of `model` from database values in the order of `select_list(model, ..., fields)`."""
    names = tuple(fields) if fields else None
    connection = connections[using]
    converted = []
    for value, (expression, steps) in zip(values, _converters(model, names, using), strict=True):
        for step in steps:
            value = step(value, expression, connection)
        converted.append(value)
    return model.from_db(using, _attnames(model, names), converted)


@cache
def _fields(model: type[Model], names: tuple[str, ...] | None) -> tuple[Any, ...]:
    if names is None:
        return tuple(model._meta.concrete_fields)
    return tuple(model._meta.get_field(name) for name in names)


def _columns(model: type[Model], names: tuple[str, ...] | None) -> tuple[str, ...]:
    return tuple(field.column for field in _fields(model, names))


@cache
def _attnames(model: type[Model], names: tuple[str, ...] | None) -> list[str]:
    return [field.attname for field in _fields(model, names)]


@cache
def _converters(
    model: type[Model], names: tuple[str, ...] | None, using: str
) -> tuple[tuple[Any, tuple[Converter, ...]], ...]:
    connection = connections[using]
    found = []
    for field in _fields(model, names):
        column = field.get_col(model._meta.db_table)
        steps = tuple(connection.ops.get_db_converters(column)) + tuple(column.get_db_converters(connection))
        found.append((column, steps))
    return tuple(found)
