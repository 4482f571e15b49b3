"""Equipment state changes and cycle times reported by MES or machines.

A batch is validated item by item; good items are stored once per (equipment, ts, source) where `source` is the
identity of the client that sent them, so a client that retries never creates duplicates and two clients reporting
the same machine never overwrite each other. The response has the shape of the measurement ingestion's (received,
stored, duplicates, rejected, duplicate_indices, errors: [{index, field, code, message}]) and uses the same problem
codes, so an MES integration handles all its batches alike. A repeat of a stored key with *different* content is
rejected (code "conflict") rather than silently dropped: the first report stays, and the client learns about it.

The timestamp rules here (ISO 8601 with an explicit offset, no year before INGEST_MIN_YEAR, not further in the future
than INGEST_MAX_FUTURE_SECONDS) are shared with lots and runs (traceability), so all production data agrees.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qms.ingest.problems import Problem
from qms.ingest.timestamps import parse_timestamp as parse_iso_timestamp
from qms.models import CycleTimeRecord, Equipment, EquipmentStateEvent, Site
from qms.seams import RecordedState, equipment_state_recorded

MAX_CYCLE_TIME_S = 24 * 3600.0
MAX_SHOT_COUNTER = 2**63 - 1
LOT_CODE_MAX_LENGTH = CycleTimeRecord._meta.get_field("lot_code").max_length
REASON_MAX_LENGTH = EquipmentStateEvent._meta.get_field("reason").max_length


# --- timestamps (pure) ---------------------------------------------------------------------------------------------


class TimestampError(ValueError):
    """A timestamp that cannot be accepted; `code` is machine-readable, str(self) explains."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


_TIMESTAMP_MESSAGES = {
    Problem.WRONG_TYPE: lambda value: _("A timestamp must be an ISO 8601 string."),
    Problem.INVALID_TIMESTAMP: lambda value: _(
        "Not an ISO 8601 timestamp: %(value)r (expected e.g. 2026-11-24T08:00:00.123Z)."
    ) % {"value": value},
    Problem.TIMEZONE_MISSING: lambda value: _(
        "The timestamp %(value)s has no time zone: add Z or an offset such as +08:00."
    ) % {"value": value},
    Problem.TOO_OLD: lambda value: _("The timestamp %(value)s lies out of range.") % {"value": value},
    Problem.IN_FUTURE: lambda value: _("The timestamp %(value)s lies out of range.") % {"value": value},
}


def parse_timestamp(value) -> datetime:
    """An ISO 8601 string with a time zone → aware UTC datetime (the ingestion's parser, so all production data
    agrees). Naive timestamps are refused: a QMS cannot guess which clock a machine meant, and a guessed hour would
    freeze the wrong lots."""
    parsed, problem = parse_iso_timestamp(value)
    if problem is not None:
        raise TimestampError(str(problem), _TIMESTAMP_MESSAGES[problem](value))
    return parsed


def check_timestamp_plausible(ts: datetime, now: datetime) -> None:
    """Refuse timestamps from before INGEST_MIN_YEAR or too far in the future (a machine clock gone wrong)."""
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise TimestampError(str(Problem.TIMEZONE_MISSING), _("The timestamp has no time zone."))
    if ts.year < settings.INGEST_MIN_YEAR:
        raise TimestampError(
            str(Problem.TOO_OLD),
            _("The timestamp %(ts)s lies before %(year)s.") % {"ts": ts.isoformat(), "year": settings.INGEST_MIN_YEAR},
        )
    if ts > now + timedelta(seconds=settings.INGEST_MAX_FUTURE_SECONDS):
        raise TimestampError(
            str(Problem.IN_FUTURE),
            _("The timestamp %(ts)s lies more than %(seconds)s s in the future (server time %(now)s).")
            % {"ts": ts.isoformat(), "seconds": settings.INGEST_MAX_FUTURE_SECONDS, "now": now.isoformat()},
        )


def accept_timestamp(value, now: datetime) -> datetime:
    ts = parse_timestamp(value)
    check_timestamp_plausible(ts, now)
    return ts


# --- per-item results ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ItemError:
    field: str
    code: str
    message: str


STORED, DUPLICATE, REJECTED = "stored", "duplicate", "rejected"


@dataclass(slots=True)
class ItemResult:
    index: int
    status: str = STORED
    errors: list[ItemError] = field(default_factory=list)


@dataclass
class BatchOutcome:
    results: list[ItemResult]

    def indices(self, status: str) -> list[int]:
        return [result.index for result in self.results if result.status == status]

    @property
    def stored(self) -> int:
        return len(self.indices(STORED))

    @property
    def duplicates(self) -> int:
        return len(self.indices(DUPLICATE))

    @property
    def rejected(self) -> int:
        return len(self.indices(REJECTED))

    def as_dict(self) -> dict:
        return {
            "received": len(self.results),
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "duplicate_indices": self.indices(DUPLICATE),
            "errors": [
                {"index": result.index, "field": error.field, "code": error.code, "message": error.message}
                for result in self.results for error in result.errors
            ],
        }


# --- item validation -----------------------------------------------------------------------------------------------


def _finite_number(item: dict, name: str, errors: list[ItemError], *, required: bool) -> float | None:
    value = item.get(name)
    if value is None:
        if required:
            errors.append(ItemError(name, "missing", _("This field is required.")))
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        errors.append(ItemError(name, "wrong_type", _("Expected a number, got %(value)r.") % {"value": value}))
        return None
    if not math.isfinite(value):
        errors.append(ItemError(name, "non_finite", _("The value must be finite.")))
        return None
    return float(value)


def _optional_text(item: dict, name: str, max_length: int, errors: list[ItemError]) -> str:
    value = item.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.append(ItemError(name, "wrong_type", _("Expected a string, got %(value)r.") % {"value": value}))
        return ""
    value = value.strip()
    if len(value) > max_length:
        errors.append(ItemError(name, "too_long", _("At most %(n)s characters.") % {"n": max_length}))
    return value


def _state_fields(item: dict, errors: list[ItemError]) -> dict:
    state = item.get("state")
    valid = EquipmentStateEvent.State.values
    if state is None:
        errors.append(ItemError("state", "missing", _("This field is required.")))
    elif state not in valid:
        errors.append(ItemError(
            "state", "invalid_choice",
            _("Unknown state %(value)r; one of: %(choices)s.") % {"value": state, "choices": ", ".join(valid)},
        ))
    return {"state": state, "reason": _optional_text(item, "reason", REASON_MAX_LENGTH, errors)}


def _cycle_fields(item: dict, errors: list[ItemError]) -> dict:
    cycle_time = _finite_number(item, "cycle_time_s", errors, required=True)
    if cycle_time is not None and not 0 < cycle_time <= MAX_CYCLE_TIME_S:
        errors.append(ItemError(
            "cycle_time_s", "out_of_range",
            _("A cycle time must lie in (0, %(max)s] seconds.") % {"max": int(MAX_CYCLE_TIME_S)},
        ))
    shot_counter = item.get("shot_counter")
    if shot_counter is not None and (
        isinstance(shot_counter, bool) or not isinstance(shot_counter, int) or not 0 <= shot_counter <= MAX_SHOT_COUNTER
    ):
        errors.append(ItemError(
            "shot_counter", "wrong_type", _("The shot counter must be a non-negative integer, got %(value)r.")
            % {"value": shot_counter},
        ))
    lot_code = item.get("lot")
    if lot_code is not None and (not isinstance(lot_code, str) or not lot_code.strip()):
        errors.append(ItemError("lot", "wrong_type", _("The lot must be a non-empty string (the lot code).")))
        lot_code = ""
    elif lot_code is not None and len(lot_code.strip()) > LOT_CODE_MAX_LENGTH:
        errors.append(ItemError("lot", "too_long", _("At most %(n)s characters.") % {"n": LOT_CODE_MAX_LENGTH}))
    return {"cycle_time_s": cycle_time, "lot_code": (lot_code or "").strip(), "shot_counter": shot_counter}


@dataclass(frozen=True)
class _EventKind:
    model: type[models.Model]
    accepted_keys: frozenset[str]
    payload_fields: tuple[str, ...]
    parse: Callable[[dict, list[ItemError]], dict]


STATE_EVENTS = _EventKind(
    EquipmentStateEvent, frozenset({"equipment", "ts", "state", "reason"}), ("state", "reason"), _state_fields
)
CYCLE_TIMES = _EventKind(
    CycleTimeRecord, frozenset({"equipment", "ts", "cycle_time_s", "lot", "shot_counter"}),
    ("cycle_time_s", "lot_code", "shot_counter"), _cycle_fields,
)


# --- storing -------------------------------------------------------------------------------------------------------


def _describe_difference(kind: _EventKind, stored: dict, sent: dict) -> str:
    parts = [f"{name}: {stored[name]!r} ≠ {sent[name]!r}" for name in kind.payload_fields if stored[name] != sent[name]]
    return "; ".join(parts)


def _record_batch(kind: _EventKind, site: Site, items: Sequence, source: str, now: datetime | None) -> BatchOutcome:
    now = now or timezone.now()
    results = [ItemResult(index) for index in range(len(items))]
    parsed: dict[int, tuple[str, datetime | None, dict]] = {}
    for index, item in enumerate(items):
        errors = results[index].errors
        if not isinstance(item, dict):
            errors.append(ItemError("", "not_an_object", _("Each item must be a JSON object.")))
            continue
        for unknown in sorted(set(item) - kind.accepted_keys):
            errors.append(ItemError(str(unknown), "unknown_field", _("Unknown field; expected one of: %(fields)s.")
                                    % {"fields": ", ".join(sorted(kind.accepted_keys))}))
        code = item.get("equipment")
        if not isinstance(code, str) or not code.strip():
            errors.append(ItemError("equipment", "missing", _("Name the equipment by its code.")))
        ts = None
        if item.get("ts") is None:
            errors.append(ItemError("ts", "missing", _("This field is required.")))
        else:
            try:
                ts = accept_timestamp(item["ts"], now)
            except TimestampError as exc:
                errors.append(ItemError("ts", exc.code, str(exc)))
        values = kind.parse(item, errors)
        if not errors:
            parsed[index] = (code.strip(), ts, values)

    codes = {code for code, _ts, _values in parsed.values()}
    equipment_ids = dict(Equipment.objects.filter(site=site, code__in=codes).values_list("code", "pk"))
    for index, (code, _ts, _values) in list(parsed.items()):
        if code not in equipment_ids:
            results[index].errors.append(ItemError(
                "equipment", "unknown_equipment",
                _("Unknown equipment %(code)s in site %(site)s.") % {"code": code, "site": site.code},
            ))
            del parsed[index]

    with transaction.atomic():
        # Locking the machines serialises concurrent batches for them, so "already stored?" and "store" cannot race.
        locked = sorted({equipment_ids[code] for code, _ts, _values in parsed.values()})
        list(Equipment.objects.select_for_update().filter(pk__in=locked).order_by("pk").values_list("pk", flat=True))
        existing = _existing_payloads(kind, source, [(equipment_ids[c], ts) for c, ts, _v in parsed.values()])
        to_create = []
        for index, (code, ts, values) in parsed.items():
            key = (equipment_ids[code], ts)
            stored = existing.get(key)
            if stored is None:
                existing[key] = values
                to_create.append(kind.model(equipment_id=key[0], ts=ts, source=source, **values))
            elif all(stored[name] == values[name] for name in kind.payload_fields):
                results[index].status = DUPLICATE
            else:
                results[index].errors.append(ItemError(
                    "ts", "conflict",
                    _("Already stored for %(equipment)s at %(ts)s from this client with different content (%(diff)s).")
                    % {"equipment": code, "ts": ts.isoformat(), "diff": _describe_difference(kind, stored, values)},
                ))
        kind.model.objects.bulk_create(to_create, batch_size=2000, ignore_conflicts=True)
        if kind is STATE_EVENTS and to_create:
            transaction.on_commit(partial(_announce_states, site.pk, to_create))
    for result in results:
        if result.errors:
            result.status = REJECTED
    return BatchOutcome(results)


def _announce_states(site_id: int, events: list) -> None:
    """After commit: the new state changes go to whoever watches machines (reaction rules)."""
    changes = [RecordedState(event.equipment_id, event.ts, event.state, event.reason) for event in events]
    equipment_state_recorded.send_robust(sender=EquipmentStateEvent, site_id=site_id, changes=changes)


def _existing_payloads(kind: _EventKind, source: str, keys: list[tuple[int, datetime]]) -> dict:
    """Stored payloads for the batch's (equipment, ts) keys from this source, one query per machine in the batch."""
    by_equipment: dict[int, list[datetime]] = {}
    for equipment_id, ts in keys:
        by_equipment.setdefault(equipment_id, []).append(ts)
    found: dict[tuple[int, datetime], dict] = {}
    for equipment_id, stamps in by_equipment.items():
        rows = kind.model.objects.filter(
            equipment_id=equipment_id, source=source, ts__gte=min(stamps), ts__lte=max(stamps)
        ).values("ts", *kind.payload_fields)
        for row in rows:
            ts = row.pop("ts")
            found[(equipment_id, ts)] = row
    return found


def record_equipment_states(site: Site, items: Sequence, *, source: str, now: datetime | None = None) -> BatchOutcome:
    """Store a batch of {"equipment", "ts", "state", "reason"?} items for `site`; one result per item."""
    return _record_batch(STATE_EVENTS, site, items, source, now)


def record_cycle_times(site: Site, items: Sequence, *, source: str, now: datetime | None = None) -> BatchOutcome:
    """Store a batch of {"equipment", "ts", "cycle_time_s", "lot"?, "shot_counter"?} items for `site`."""
    return _record_batch(CYCLE_TIMES, site, items, source, now)
