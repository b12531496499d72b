"""Page numbers in query strings (API lists, the earnings and staff pages)."""

from __future__ import annotations

from fairlabel.errors import ServiceError
from fairlabel.numbers import BIGINT_MAX, NumberError, parse_whole


def parse_page(value: object, *, page_size: int) -> int:
    """1 when absent; up to the last page whose offset a bigint holds; a 400 (invalid_page) otherwise."""
    if value is None or value == "":
        return 1
    try:
        return parse_whole(value, field="page", low=1, high=BIGINT_MAX // page_size)
    except NumberError as exc:
        raise ServiceError(
            code="invalid_page", message=f"{exc}.", details={"fields": {"page": [str(exc)]}}
        ) from None
