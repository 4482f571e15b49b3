"""Pareto analysis: the categories sorted by weight, each with its share and the cumulative share of the total."""
from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

VITAL_FEW_PCT = 80.0  # the classic 80 % line: the categories up to (and including) the one that crosses it


@dataclass(frozen=True)
class ParetoRow:
    key: Hashable
    value: float
    share_pct: float
    cumulative_pct: float
    vital_few: bool


def pareto(weights: Iterable[tuple[Hashable, float]], tie_order: Callable[[Hashable], str] = str) -> list[ParetoRow]:
    """Sum the weights per key, sort descending (ties by `tie_order(key)` — e.g. the defect code of a key that is an
    id — then by the key, so the order is stable), add shares.

    Keys whose total weight is zero are dropped (they cannot appear on a Pareto chart); negative weights are refused.
    The last row's cumulative share is exactly 100 (no float drift); an empty or all-zero input gives no rows.
    """
    totals: dict[Hashable, float] = {}
    for key, weight in weights:
        if weight < 0:
            raise ValueError(f"negative weight {weight!r} for {key!r}")
        totals[key] = totals.get(key, 0.0) + weight
    items = sorted(((key, value) for key, value in totals.items() if value > 0),
                   key=lambda kv: (-kv[1], tie_order(kv[0]), str(kv[0])))
    grand_total = sum(value for _key, value in items)
    rows: list[ParetoRow] = []
    running = 0.0
    crossed = False
    for index, (key, value) in enumerate(items):
        running += value
        cumulative = 100.0 if index == len(items) - 1 else min(100.0, running / grand_total * 100.0)
        rows.append(ParetoRow(key=key, value=value, share_pct=value / grand_total * 100.0,
                              cumulative_pct=cumulative, vital_few=not crossed))
        crossed = crossed or cumulative >= VITAL_FEW_PCT
    return rows
