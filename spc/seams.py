"""SPC's domain events, sent after the transaction that stored the signal commits (never for a rolled-back one).

spc_signal_raised(sender=spc.models.Signal, event: RaisedSignal)
    Sent once per stored signal, in the order the points were judged. The alarm issue consumes it.
"""
from dataclasses import dataclass
from datetime import datetime

from django.dispatch import Signal

spc_signal_raised = Signal()


@dataclass(frozen=True, slots=True)
class RaisedSignal:
    id: int                     # spc.models.Signal primary key
    site_id: int
    characteristic_id: int
    chart: str                  # xbar, r, s, i, mr, p, np, c, u, ewma, cusum_pos, cusum_neg
    rule: str                   # WE1–WE4, N1–N8, EWMA, CUSUM
    ts: datetime                # time of the newest value of the point that completed the pattern
    value: float | None         # that point's plotted value
    measurement_ids: tuple[int, ...]  # the measurements of the points involved (as far as still known)
