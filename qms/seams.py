"""Domain events other layers plug into. Each is sent after the transaction that caused it commits.

measurements_stored(sender, site_id: int, points: list[StoredPoint])
    Sent once per ingest batch with the points that were newly stored (duplicates and rejects excluded),
    ordered by (characteristic_id, ts). The SPC engine subscribes to judge each new point.
"""
from dataclasses import dataclass
from datetime import datetime

from django.dispatch import Signal

measurements_stored = Signal()


@dataclass(frozen=True, slots=True)
class StoredPoint:
    id: int
    characteristic_id: int
    ts: datetime
    value: float
    quality: int
    lot_code: str
    equipment_id: int | None
