"""The one way a moment is written in JSON: ISO 8601 in UTC with a Z, as the API contract shows it."""

from __future__ import annotations

from datetime import datetime
from typing import overload


@overload
def json_time(moment: datetime) -> str: ...
@overload
def json_time(moment: None) -> None: ...
def json_time(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None
