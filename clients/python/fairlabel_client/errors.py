"""The API's refusals as exceptions: the contract's error body {"error": {"code", "message", "details"}}."""

from __future__ import annotations

from typing import Any


class FairlabelError(Exception):
    """An error answer from the API: its HTTP status, its error code, its sentence and its details."""

    def __init__(
        self, *, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{message} ({code}, HTTP {status})")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


class RateLimited(FairlabelError):
    """429 after every retry the client was allowed; `retry_after` is the server's last wait, in seconds."""

    def __init__(self, *, retry_after: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.retry_after = retry_after


class ImportFailed(FairlabelError):
    """A background import ended in failure: nothing of the file was written; `row` names the bad row."""

    def __init__(self, *, row: int | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.row = row
