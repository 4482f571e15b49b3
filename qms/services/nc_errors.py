"""The one exception the nonconformance services raise (NC, defect codes, attachments, dispositions)."""
from __future__ import annotations


class NcError(Exception):
    """A request refused, nothing changed. `code` is machine-readable, `message` names the problem, `field` the
    input at fault (forms and the API show it next to that field), `details` carries extra facts."""

    def __init__(self, code: str, message: str, *, field: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.details = details or {}

    def __str__(self):
        return self.message
