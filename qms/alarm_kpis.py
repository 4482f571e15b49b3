"""Response-time statistics of alarms — pure computation, no Django (tested directly).

Per alarm (all in seconds, None when the moment has not come):
    time to acknowledge = acknowledged_at − raised_at
    time to contain     = contained_at − trigger_ts   (from the offending value to the frozen product)
    time to clear       = cleared_at − raised_at
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

SEVERITIES = ("critical", "major", "minor", "warning")


@dataclass(frozen=True)
class AlarmTimes:
    raised_at: datetime
    severity: str
    trigger_ts: datetime
    acknowledged_at: datetime | None = None
    contained_at: datetime | None = None
    cleared_at: datetime | None = None


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max((end - start).total_seconds(), 0.0)  # clocks of source and server may disagree by a little


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    if not 0.0 <= fraction <= 1.0:
        raise ValueError("fraction must lie in [0, 1]")
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    lower, upper = math.floor(position), math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def median(values: Sequence[float]) -> float | None:
    return percentile(values, 0.5)


def describe(values: Sequence[float]) -> dict:
    return {"count": len(values), "median_s": median(values), "p90_s": percentile(values, 0.9)}


def summarise(alarms: Iterable[AlarmTimes], *, day_of=lambda moment: moment.date()) -> dict:
    """KPIs over the given alarms: overall response times, counts by severity, and the same per day raised
    (`day_of` maps a datetime to the calendar day, e.g. in the site's time zone)."""
    overall = _Bucket()
    by_day: dict[date, _Bucket] = defaultdict(_Bucket)
    for alarm in alarms:
        overall.add(alarm)
        by_day[day_of(alarm.raised_at)].add(alarm)
    return {**overall.as_dict(), "per_day": [{"day": day.isoformat(), **bucket.as_dict()}
                                             for day, bucket in sorted(by_day.items())]}


class _Bucket:
    def __init__(self):
        self.count = 0
        self.by_severity: Counter = Counter()
        self.ack: list[float] = []
        self.contain: list[float] = []
        self.clear: list[float] = []

    def add(self, alarm: AlarmTimes) -> None:
        self.count += 1
        self.by_severity[alarm.severity] += 1
        for values, seconds in ((self.ack, seconds_between(alarm.raised_at, alarm.acknowledged_at)),
                                (self.contain, seconds_between(alarm.trigger_ts, alarm.contained_at)),
                                (self.clear, seconds_between(alarm.raised_at, alarm.cleared_at))):
            if seconds is not None:
                values.append(seconds)

    def as_dict(self) -> dict:
        return {
            "count": self.count,
            "by_severity": {severity: self.by_severity.get(severity, 0) for severity in SEVERITIES},
            "time_to_acknowledge": describe(self.ack),
            "time_to_contain": describe(self.contain),
            "time_to_clear": describe(self.clear),
        }
