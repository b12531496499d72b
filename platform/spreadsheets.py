"""Cells of every CSV the platform writes, made safe to open in a spreadsheet (CSV, or formula, injection).

A spreadsheet runs a cell as a formula when its first visible character is `=`, `+`, `-` or `@`, and it skips
what comes before that: spaces, line breaks, a no-break space, zero-width and other invisible characters. It
also reads full-width forms (U+FF1D for `=`) as the ASCII ones. So a cell is judged by its first visible character after
compatibility normalisation, and one that could start a formula gets a leading apostrophe (OWASP's advice), which
spreadsheets show as text and do not display. Written by hand: the CSV libraries leave this to their callers.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

_FORMULA = frozenset("=+-@")
_CONTROL_STARTS = frozenset("\t\r\n")
_INVISIBLE = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})


def _could_run(text: str) -> bool:
    if text[0] in _CONTROL_STARTS:
        return True
    for char in text:
        if unicodedata.category(char) in _INVISIBLE:
            continue
        return unicodedata.normalize("NFKC", char)[:1] in _FORMULA
    return False


def spreadsheet_safe(value: Any) -> Any:
    """The value, or for text that could run as a formula, the text behind an apostrophe."""
    if value.__class__ is not str or not value:
        return value
    first = value[0]
    # Nearly every cell starts with an ASCII letter or digit: one test, then done (exports write millions).
    if first.isascii() and first.isalnum():
        return value
    return "'" + value if _could_run(value) else value


def spreadsheet_row(values: Iterable[Any]) -> list[Any]:
    return ["" if v is None else spreadsheet_safe(v) for v in values]
