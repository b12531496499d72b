"""A JSON request parser that refuses what would otherwise fail later with a 500.

Python's json module raises RecursionError (not ValueError, which DRF's parser catches) on a few thousand nested
brackets. Nesting just under that parses, but every later json.dumps or json.loads of the value runs deeper in
the call stack (the ORM writing a JSONField, a template showing task data) and fails there instead, after the
request was accepted. So bodies are limited to a depth no real payload needs.

JSON can also spell characters no database text can hold: `\\u0000`, and a lone surrogate such as `\\ud800` that
has no UTF-8 encoding at all. PostgreSQL refuses both, so a string anywhere in the body (key or value) holding
one is refused here, before any view sees it. And a number such as 1e999 parses as infinity, which JSON cannot
write back (PostgreSQL's jsonb refuses it).
"""

from __future__ import annotations

import math
import re
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_JSON_DEPTH = 32
# After json decoding a valid surrogate pair is one character, so any surrogate left is a lone one.
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def json_problem(value: Any, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Why a decoded JSON value cannot be accepted, or None. Iterative, so it cannot overflow the stack itself."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                return "a string holds a NUL character or an unpaired surrogate (\\u0000, \\ud800-\\udfff)"
            continue
        if isinstance(item, float) and not math.isfinite(item):
            return "a number is too large for JSON to represent (such as 1e999)"
        if isinstance(item, dict):
            if depth > max_depth:
                return f"nested deeper than {max_depth} levels"
            stack.extend((key, depth) for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            if depth > max_depth:
                return f"nested deeper than {max_depth} levels"
            stack.extend((child, depth + 1) for child in item)
    return None


class SafeJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            problem: str | None = f"nested deeper than {MAX_JSON_DEPTH} levels"
        else:
            problem = json_problem(data)
        if problem is not None:
            raise ParseError(f"JSON parse error - {problem}.")
        return data
