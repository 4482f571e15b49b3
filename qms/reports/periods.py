"""Counting events per calendar period (ISO week starting Monday, or month) and per group, gaps filled with zeros."""
from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

PERIODS = ("week", "month")


def period_start(day: date, period: str) -> date:
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    raise ValueError(f"unknown period {period!r}; use one of {', '.join(PERIODS)}")


def next_period(start: date, period: str) -> date:
    if period == "week":
        return start + timedelta(days=7)
    if period == "month":
        return date(start.year + start.month // 12, start.month % 12 + 1, 1)
    raise ValueError(f"unknown period {period!r}; use one of {', '.join(PERIODS)}")


def period_starts(first: date, last: date, period: str) -> list[date]:
    """Every period from the one holding `first` to the one holding `last` (inclusive)."""
    starts = []
    current, end = period_start(first, period), period_start(last, period)
    while current <= end:
        starts.append(current)
        current = next_period(current, period)
    return starts


@dataclass
class Trend:
    periods: list[date]
    series: dict[Hashable, list[int]] = field(default_factory=dict)

    @property
    def totals(self) -> list[int]:
        return [sum(column) for column in zip(*self.series.values(), strict=True)] if self.series else \
            [0] * len(self.periods)


def trend(events: Iterable[tuple[date, Hashable]], first: date, last: date, period: str) -> Trend:
    """Count (day, group) events per period between `first` and `last`; events outside are ignored.

    Groups are ordered by their total, largest first (ties by name), so a chart's legend lists the big ones first.
    """
    starts = period_starts(first, last, period)
    index = {start: position for position, start in enumerate(starts)}
    counts: dict[Hashable, list[int]] = {}
    for day, group in events:
        if not first <= day <= last:
            continue
        row = counts.setdefault(group, [0] * len(starts))
        row[index[period_start(day, period)]] += 1
    ordered = sorted(counts.items(), key=lambda item: (-sum(item[1]), str(item[0])))
    return Trend(periods=starts, series=dict(ordered))
