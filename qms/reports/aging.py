"""Age buckets for open records (days since opened) and overdue days of tasks."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Upper bounds in days, exclusive; the last bucket is open-ended. 30/60/90 is what a monthly quality review asks.
DEFAULT_BOUNDS = (30, 60, 90)


@dataclass(frozen=True)
class Bucket:
    low: int
    high: int | None  # exclusive; None: no upper bound

    @property
    def label(self) -> str:
        return f"{self.low}–{self.high - 1}" if self.high is not None else f"≥ {self.low}"

    def holds(self, days: int) -> bool:
        return days >= self.low and (self.high is None or days < self.high)


def buckets(bounds: Iterable[int] = DEFAULT_BOUNDS) -> list[Bucket]:
    bounds = list(bounds)
    if any(b <= 0 for b in bounds) or bounds != sorted(set(bounds)):
        raise ValueError("bucket bounds must be positive and strictly increasing")
    lows = [0, *bounds]
    return [Bucket(low, high) for low, high in zip(lows, [*bounds, None], strict=True)]


def bucket_index(days: int, bounds: Iterable[int] = DEFAULT_BOUNDS) -> int:
    """Which bucket an age falls in (negative ages — clock skew — count as 0 days)."""
    days = max(0, days)
    for index, bucket in enumerate(buckets(bounds)):
        if bucket.holds(days):
            return index
    raise AssertionError("the last bucket is open-ended")


def count_by_bucket(ages: Iterable[int], bounds: Iterable[int] = DEFAULT_BOUNDS) -> list[int]:
    bounds = list(bounds)
    counts = [0] * (len(bounds) + 1)
    for days in ages:
        counts[bucket_index(days, bounds)] += 1
    return counts
