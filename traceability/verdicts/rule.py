"""The MES verdict rule, plain Python (no Django): what a lot's hold entries mean for moving it on.

    reject   if any entry was decided "scrap"
    hold     else if any entry is still "held" or sent to "rework" on a hold that is not released
    pending  else if any entry was handed over to nonconformance ("nc": the MRB has not decided yet)
    release  otherwise (no entries, or every entry released)

`reasons` are the entries that decide the verdict (the scrap entries for reject, the open ones for hold, the nc
ones for pending); a released lot has none.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

RELEASE, HOLD, REJECT, PENDING = "release", "hold", "reject", "pending"
VERDICTS = (RELEASE, HOLD, REJECT, PENDING)

SCRAP_DISPOSITIONS = frozenset({"scrap"})
OPEN_DISPOSITIONS = frozenset({"held", "rework"})
PENDING_DISPOSITIONS = frozenset({"nc"})


class Entry(NamedTuple):
    """One HoldLot row as the rule needs it."""

    hold_id: int
    hold_number: str
    reason: str
    since: str           # ISO timestamp: when the hold was placed (or the nc hand-over decided)
    disposition: str     # held | release | rework | scrap | nc
    hold_released: bool  # the hold as a whole is released


@dataclass(frozen=True, slots=True)
class Verdict:
    lot: str
    verdict: str
    reasons: list[dict] = field(default_factory=list)
    checked_at: str | None = None

    def as_dict(self) -> dict:
        return {"lot": self.lot, "verdict": self.verdict, "reasons": self.reasons, "checked_at": self.checked_at}


PRECEDENCE = {RELEASE: 0, PENDING: 1, HOLD: 2, REJECT: 3}


def asks_for(disposition: str, hold_released: bool) -> str:
    """The verdict one hold entry asks for on its own."""
    if disposition in SCRAP_DISPOSITIONS:
        return REJECT
    if disposition in OPEN_DISPOSITIONS and not hold_released:
        return HOLD
    if disposition in PENDING_DISPOSITIONS:
        return PENDING
    return RELEASE


def verdict_of(entries) -> str:
    """The lot's verdict from (disposition, hold_released) pairs: the strongest any entry asks for."""
    return max((asks_for(disposition, released) for disposition, released in entries), key=PRECEDENCE.__getitem__,
               default=RELEASE)


def decide(entries) -> tuple[str, list[Entry]]:
    """(verdict, the entries that decide it) for one lot's hold entries."""
    entries = list(entries)
    verdict = verdict_of((entry.disposition, entry.hold_released) for entry in entries)
    if verdict == RELEASE:
        return RELEASE, []
    deciding = [entry for entry in entries if asks_for(entry.disposition, entry.hold_released) == verdict]
    return verdict, sorted(deciding, key=lambda e: (e.since, e.hold_id))


def reason_of(entry: Entry) -> dict:
    return {"hold": entry.hold_id, "hold_number": entry.hold_number, "reason": entry.reason, "since": entry.since,
            "disposition": entry.disposition}
