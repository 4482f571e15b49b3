"""Domain errors of the traceability services that are not plain validation problems."""
from __future__ import annotations


class Conflict(Exception):
    """The request contradicts what is already recorded (HTTP 409). `differences` names each contradiction:
    {field: {"stored": ..., "sent": ...}} or another JSON-able structure."""

    def __init__(self, message: str, differences: dict | None = None):
        super().__init__(message)
        self.message = message
        self.differences = differences or {}
