"""Contract between the hold services and the verdict cache (owned by the verdict work).

    note_lots_changed(site_id: int, lot_ids: Iterable[int]) -> None

Called by `traceability.services.holds` INSIDE the transaction that changed the lots' HoldLot rows. It makes sure
that every verdict request starting after the commit sees the new state (invalidate before commit, write through
on commit) and that `verdicts_changed` is sent after commit.
"""
from __future__ import annotations

from collections.abc import Iterable


def note_lots_changed(site_id: int, lot_ids: Iterable[int]) -> None:
    """Placeholder until the verdict cache lands: verdicts are computed from the database on every request."""
    list(lot_ids)
