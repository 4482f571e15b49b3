"""Live health and counters of one connector as its adapter reports them. No Django import: the runner copies a
snapshot into ConnectorStatus every few seconds."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

CONNECTING, CONNECTED, DEGRADED, DOWN, STOPPED = "connecting", "connected", "degraded", "down", "stopped"


@dataclass
class ConnectorHealth:
    state: str = STOPPED
    detail: str = ""
    received: int = 0
    bad_quality: int = 0
    reconnects: int = 0
    last_value_at: datetime | None = None
    last_error: str = ""
    last_error_at: datetime | None = None
    clock_skew_ms: float | None = None
    last_activity: float = field(default_factory=time.monotonic)   # monotonic; for the runner's own watchdog

    def set_state(self, state: str, detail: str = "") -> None:
        self.state = state
        self.detail = detail[:500]

    def connected(self, detail: str = "") -> None:
        self.set_state(CONNECTED, detail)
        self.last_activity = time.monotonic()

    def degraded(self, detail: str) -> None:
        self.set_state(DEGRADED, detail)

    def down(self, detail: str) -> None:
        self.set_state(DOWN, detail)

    def reconnected(self) -> None:
        self.reconnects += 1

    def error(self, exc: BaseException | str) -> None:
        self.last_error = (exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}")[:2000]
        self.last_error_at = datetime.now(UTC)

    def counted(self, received: int, bad: int = 0, last_value_at: datetime | None = None) -> None:
        self.received += received
        self.bad_quality += bad
        self.last_activity = time.monotonic()
        if last_value_at is not None:
            self.last_value_at = last_value_at

    def skew(self, milliseconds: float) -> None:
        self.clock_skew_ms = milliseconds

    def snapshot(self) -> dict:
        return {
            "state": self.state, "detail": self.detail, "received": self.received, "bad_quality": self.bad_quality,
            "reconnects": self.reconnects, "last_value_at": self.last_value_at, "last_error": self.last_error,
            "last_error_at": self.last_error_at, "clock_skew_ms": self.clock_skew_ms,
        }
