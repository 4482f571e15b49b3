"""Traceability's domain events, each sent after the transaction that caused it commits.

verdicts_changed(sender, site_id: int, changes: list[VerdictChange])
    Lots whose MES verdict changed (hold placed, lot released/scrapped, ...). The verdict cache writes them
    through and the MES push (write-back / webhook) sends them.

hold_changed(sender, hold_id: int, site_id: int, event: str)
    event: placed, lots_added, lot_disposed, released, window_closed.
"""
from dataclasses import dataclass

from django.dispatch import Signal

verdicts_changed = Signal()
hold_changed = Signal()


@dataclass(frozen=True, slots=True)
class VerdictChange:
    lot_id: int
    lot_code: str
    verdict: str        # release | hold | reject | pending
    previous: str | None  # None: the lot's first published verdict
    change: int = 0       # per-lot change number (LotVerdict.change): with lot_id, the push's idempotency key
