"""Connector events other layers plug into (the alarm/rule issue subscribes). Each is sent after the transaction
that caused it commits.

data_stale(sender, site_id: int, tags: list[StaleTag])
    A mapped tag got no update within 3 × its characteristic's update_period_s. Sent once when a tag goes stale
    (not again while it stays stale).

data_resumed(sender, site_id: int, tags: list[StaleTag])
    A stale tag got a value again.

writeback_changed(sender, command_id: int, status: str)
    A write-back command changed status (sent, confirmed, failed, shadow).
"""
from dataclasses import dataclass
from datetime import datetime

from django.dispatch import Signal

data_stale = Signal()
data_resumed = Signal()
writeback_changed = Signal()


@dataclass(frozen=True, slots=True)
class StaleTag:
    connector_id: int
    connector: str
    tag_id: int
    source_ref: str
    characteristic_id: int
    characteristic: str
    equipment_id: int | None
    last_value_at: datetime | None
    expected_period_s: float
    stale_since: datetime
