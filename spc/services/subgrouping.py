"""How values become plotted points: one value per point, or subgroups formed by count, time window or lot.

The same `SubgroupFormer` forms subgroups for the phase I baseline and for live evaluation, so a baseline and the
live chart group values identically. Its whole memory is the open (partial) subgroup, which live evaluation keeps
in the SPC state row between deliveries as `[[measurement id, ISO time, value, lot], ...]`.

- count: consecutive values (in arrival order) until the subgroup has `subgroup_size` values;
- time: values whose time falls in the same window of `time_window_s` seconds (aligned to the Unix epoch); the
  window closes when a value of another window arrives (or the subgroup reaches 25 values);
- lot: values of the same lot; the subgroup closes when a value of another lot arrives or it reaches
  `subgroup_size` values (a lot of 15 values at size 5 gives three subgroups).
A subgroup closed with fewer than 2 values cannot be charted on an X̄ chart; it is dropped and counted.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from spc.engine.constants import MAX_SUBGROUP, MIN_SUBGROUP


@dataclass(frozen=True, slots=True)
class Value:
    id: int
    ts: datetime
    value: float
    lot: str


@dataclass(frozen=True, slots=True)
class Group:
    members: tuple[Value, ...]

    @property
    def values(self) -> list[float]:
        return [m.value for m in self.members]

    @property
    def ids(self) -> list[int]:
        return [m.id for m in self.members]

    @property
    def ts(self) -> datetime:
        return max(m.ts for m in self.members)

    @property
    def first_ts(self) -> datetime:
        return min(m.ts for m in self.members)

    @property
    def lot(self) -> str:
        lots = {m.lot for m in self.members}
        return lots.pop() if len(lots) == 1 else ""


class SubgroupFormer:
    def __init__(self, mode: str, subgroup_size: int, time_window_s: int | None = None, pending=()):
        self.mode = mode
        self.capacity = subgroup_size if mode in ("count", "lot") else MAX_SUBGROUP
        self.window = time_window_s or 60
        self.pending: list[Value] = [
            p if isinstance(p, Value) else Value(int(p[0]), datetime.fromisoformat(p[1]), float(p[2]), p[3])
            for p in pending
        ]
        self.dropped = 0

    def _key(self, value: Value):
        if self.mode == "time":
            return int(value.ts.timestamp() // self.window)
        if self.mode == "lot":
            return value.lot
        return None

    def feed(self, values) -> list[Group]:
        closed: list[Group] = []
        for value in values:
            if self.pending and self.mode != "count" and self._key(value) != self._key(self.pending[0]):
                self._close(closed)
            self.pending.append(value)
            if len(self.pending) >= self.capacity:
                self._close(closed)
        return closed

    def _close(self, closed: list[Group]) -> None:
        if len(self.pending) >= MIN_SUBGROUP:
            closed.append(Group(tuple(self.pending)))
        else:
            self.dropped += len(self.pending)
        self.pending = []

    def close(self) -> list[Group]:
        """Close the open subgroup now (its window has passed): the group, or nothing if it is too small."""
        closed: list[Group] = []
        if self.pending:
            self._close(closed)
        return closed

    def pending_json(self) -> list:
        return [[p.id, p.ts.isoformat(), p.value, p.lot] for p in self.pending]


def single_points(values) -> list[Group]:
    return [Group((v,)) for v in values]
