"""Points, SPC signals, stale tags and equipment states → triggers (raise or repeat an alarm) and return-to-normal
events (clear it). Pure and order-independent within a batch: points are judged in time order per characteristic.

A batch yields at most one trigger per (rule, characteristic): many offending values of one batch coalesce into one
raise carrying the worst value, the first offending time and the count. A rule whose last judged value of the batch
is good returns to normal — reported only when the caller says an alarm is open for it (`open_keys`) or the same
batch tripped it, so a healthy stream costs no alarm traffic.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from qms.rules.spec import (
    EQUIPMENT_STATE,
    GOOD_QUALITY_LIMIT,
    SPC,
    STALE,
    MeasurementCheck,
    RuleSpec,
    alarm_source_key,
)


class Point(NamedTuple):
    """The fields of qms.seams.StoredPoint evaluation reads (a StoredPoint is accepted as is)."""

    id: int
    characteristic_id: int
    ts: datetime
    value: float
    quality: int = 0
    lot_code: str = ""
    equipment_id: int | None = None


@dataclass(frozen=True, slots=True)
class Trigger:
    rule_id: int
    alarm_type: str
    characteristic_id: int | None
    equipment_id: int | None
    ts: datetime                            # the first offending value's time (the alarm's trigger time)
    value: float | None = None              # the worst value of the batch
    worst_ts: datetime | None = None
    last_ts: datetime | None = None         # the latest offending value's time
    count: int = 1
    last_good_ts: datetime | None = None    # the last good value before `ts`, when the batch holds it
    measurement_id: int | None = None       # the worst value's measurement
    evidence: dict = field(default_factory=dict)

    @property
    def source_key(self) -> str:
        return alarm_source_key(self.rule_id, characteristic_id=self.characteristic_id,
                                equipment_id=self.equipment_id)

    @property
    def key(self) -> tuple[str, str]:
        return self.source_key, self.alarm_type


@dataclass(frozen=True, slots=True)
class Normal:
    rule_id: int
    alarm_type: str
    characteristic_id: int | None
    equipment_id: int | None
    ts: datetime                    # when the condition returned: the first good value after the last bad one
    value: float | None = None

    @property
    def source_key(self) -> str:
        return alarm_source_key(self.rule_id, characteristic_id=self.characteristic_id,
                                equipment_id=self.equipment_id)

    @property
    def key(self) -> tuple[str, str]:
        return self.source_key, self.alarm_type


class _Run:
    """What one check saw in one batch."""

    __slots__ = ("first_bad", "last_bad", "worst", "worst_excess", "count", "good_before", "returned", "first_good")

    def __init__(self):
        self.first_bad = None
        self.last_bad = None
        self.worst = None
        self.worst_excess = None
        self.count = 0
        self.good_before = None   # the last good point before the first bad one
        self.returned = None      # the first good point after the latest bad one (None while still bad)
        self.first_good = None


def _judge(check: MeasurementCheck, points: Sequence) -> _Run:
    run = _Run()
    is_bad, excess = check.is_bad, check.excess
    for point in points:
        if point.quality > GOOD_QUALITY_LIMIT:
            continue
        if is_bad(point.value):
            if run.first_bad is None:
                run.first_bad = point
            run.last_bad = point
            run.returned = None
            run.count += 1
            how_far = excess(point.value)
            if run.worst_excess is None or how_far > run.worst_excess:
                run.worst, run.worst_excess = point, how_far
        else:
            if run.first_bad is None:
                run.good_before = point
            elif run.returned is None:
                run.returned = point
            if run.first_good is None:
                run.first_good = point
    return run


def evaluate_points(points: Iterable, checks_by_characteristic: Mapping[int, Sequence[MeasurementCheck]],
                    open_keys: Collection[tuple[str, str]] = ()) -> tuple[list[Trigger], list[Normal]]:
    """Judge a batch of new points. `open_keys` holds the (source key, alarm type) of alarms currently active."""
    by_characteristic: dict[int, list] = {}
    get_checks = checks_by_characteristic.get
    for point in points:
        if get_checks(point.characteristic_id) is not None:
            by_characteristic.setdefault(point.characteristic_id, []).append(point)
    triggers: list[Trigger] = []
    normals: list[Normal] = []
    for characteristic_id, characteristic_points in by_characteristic.items():
        characteristic_points.sort(key=_by_time)
        for check in checks_by_characteristic[characteristic_id]:
            run = _judge(check, characteristic_points)
            if run.first_bad is not None:
                worst = run.worst
                triggers.append(Trigger(
                    rule_id=check.rule_id, alarm_type=check.trigger, characteristic_id=characteristic_id,
                    equipment_id=worst.equipment_id if worst.equipment_id is not None else check.equipment_id,
                    ts=run.first_bad.ts, value=worst.value, worst_ts=worst.ts, last_ts=run.last_bad.ts,
                    count=run.count, last_good_ts=run.good_before.ts if run.good_before is not None else None,
                    measurement_id=worst.id, evidence=check.evidence(),
                ))
            # Back to normal at the first good value after the last bad one; for an alarm opened by an earlier
            # batch (this one all good), at the batch's first good value.
            back = run.returned if run.first_bad is not None else run.first_good
            if back is None:
                continue
            key = (alarm_source_key(check.rule_id, characteristic_id=characteristic_id), check.trigger)
            if run.first_bad is not None or key in open_keys:
                normals.append(Normal(check.rule_id, check.trigger, characteristic_id, check.equipment_id,
                                      back.ts, back.value))
    return triggers, normals


def _by_time(point) -> datetime:
    return point.ts


# --- SPC signals, stale data, equipment states ----------------------------------------------------------------


def match_spc_signal(rules: Iterable[RuleSpec], *, rule: str, characteristic_id: int, equipment_id: int | None,
                     ts: datetime, value: float | None, evidence: dict) -> list[Trigger]:
    """One trigger per SPC rule (among those covering the characteristic) that reacts to this run rule."""
    return [
        Trigger(rule_id=spec.id, alarm_type=SPC, characteristic_id=characteristic_id, equipment_id=equipment_id,
                ts=ts, value=value, worst_ts=ts, last_ts=ts, evidence=evidence)
        for spec in rules if spec.matches_spc_rule(rule)
    ]


def match_stale(rules: Iterable[RuleSpec], *, characteristic_id: int, equipment_id: int | None, since: datetime,
                resumed: bool, evidence: dict) -> list[Trigger] | list[Normal]:
    """A stale tag trips every stale rule covering its characteristic; a resumed one returns them to normal."""
    specs = [spec for spec in rules if spec.trigger == STALE]
    if resumed:
        return [Normal(spec.id, STALE, characteristic_id, equipment_id, since) for spec in specs]
    return [Trigger(rule_id=spec.id, alarm_type=STALE, characteristic_id=characteristic_id,
                    equipment_id=equipment_id, ts=since, worst_ts=since, last_ts=since, evidence=evidence)
            for spec in specs]


class StateChange(NamedTuple):
    equipment_id: int
    ts: datetime
    state: str
    reason: str = ""


def evaluate_equipment_states(changes: Iterable[StateChange], rules_by_equipment: Mapping[int, Sequence[RuleSpec]],
                              open_keys: Collection[tuple[str, str]] = ()) -> tuple[list[Trigger], list[Normal]]:
    """Per machine in time order: entering one of a rule's states trips it (coalesced per batch), leaving them —
    the machine's latest state is not one of them — returns it to normal."""
    by_equipment: dict[int, list[StateChange]] = {}
    for change in changes:
        if change.equipment_id in rules_by_equipment:
            by_equipment.setdefault(change.equipment_id, []).append(change)
    triggers: list[Trigger] = []
    normals: list[Normal] = []
    for equipment_id, equipment_changes in by_equipment.items():
        equipment_changes.sort(key=_by_time)
        for spec in rules_by_equipment[equipment_id]:
            if spec.trigger != EQUIPMENT_STATE:
                continue
            bad = [change for change in equipment_changes if spec.matches_state(change.state)]
            last = equipment_changes[-1]
            if bad:
                first = bad[0]
                triggers.append(Trigger(
                    rule_id=spec.id, alarm_type=EQUIPMENT_STATE, characteristic_id=None, equipment_id=equipment_id,
                    ts=first.ts, worst_ts=first.ts, last_ts=bad[-1].ts, count=len(bad),
                    evidence={"state": first.state, "reason": first.reason},
                ))
            if spec.matches_state(last.state):
                continue
            key = (alarm_source_key(spec.id, equipment_id=equipment_id), EQUIPMENT_STATE)
            if bad or key in open_keys:
                returned = next(change for change in equipment_changes
                                if change.ts >= (bad[-1].ts if bad else equipment_changes[0].ts)
                                and not spec.matches_state(change.state))
                normals.append(Normal(spec.id, EQUIPMENT_STATE, None, equipment_id, returned.ts))
    return triggers, normals
