"""The compiled reaction rules each process keeps in memory, and the keys of the alarms rules currently hold active.

The ingest hot path asks `site_rules(site_id)` once per batch: a dict lookup while nothing changed. Two version
tokens in the shared Django cache (Redis in production) tell every worker process when to rebuild:
- RULES_VERSION_KEY — bumped on commit of any rule change and of any characteristic/equipment save (limits, scope);
- OPEN_ALARMS_VERSION_KEY — bumped on commit of every alarm raise/repeat/clear/close (`alarm_changed`).
A process reads both tokens in one round trip at most every CHECK_INTERVAL_S; its own changes apply at once. The
open-alarm keys are what makes return-to-normal work across processes: worker B clears the alarm worker A raised
because B's next batch sees the key in the (reloaded) set, not because B remembers the raise. A batch that races a
raise in another process by less than the check interval is caught by the next good batch (the stream continues).
Rebuilds are per site and cost a handful of queries; MAX_AGE_S bounds how long any process trusts its copy (bulk
writes that send no signals).
"""
from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import transaction

from qms.rules import CharacteristicInfo, Limits, MeasurementCheck, RuleScope, RuleSpec, compile_check
from qms.rules.scope import equipment_in_scope
from qms.rules.spec import EQUIPMENT_STATE, MEASUREMENT_TRIGGERS, SPC, STALE

RULES_VERSION_KEY = "qp:reaction-rules:version"
OPEN_ALARMS_VERSION_KEY = "qp:reaction-rules:open-alarms"
CHECK_INTERVAL_S = 0.25
MAX_AGE_S = 60.0
ACTIVE_STATES = ("active_unacknowledged", "acknowledged")


@dataclass
class SiteRules:
    """One site's enabled rules, compiled and indexed by what the seams deliver."""

    specs: dict[int, RuleSpec] = field(default_factory=dict)
    checks_by_characteristic: dict[int, tuple[MeasurementCheck, ...]] = field(default_factory=dict)
    spc_by_characteristic: dict[int, tuple[RuleSpec, ...]] = field(default_factory=dict)
    stale_by_characteristic: dict[int, tuple[RuleSpec, ...]] = field(default_factory=dict)
    state_by_equipment: dict[int, tuple[RuleSpec, ...]] = field(default_factory=dict)
    equipment_of: dict[int, int | None] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.specs


class _ProcessCache:
    def __init__(self):
        self.lock = threading.Lock()
        self.tokens: tuple | None = None
        self.checked_at = 0.0
        self.loaded_at = 0.0
        self.sites: dict[int, SiteRules] = {}
        self.open_keys: dict[int, set[tuple[str, str]]] = {}

    def refresh_if_changed(self) -> None:
        now = time.monotonic()
        if now - self.checked_at < CHECK_INTERVAL_S and now - self.loaded_at < MAX_AGE_S:
            return
        tokens = cache.get_many([RULES_VERSION_KEY, OPEN_ALARMS_VERSION_KEY])
        current = (tokens.get(RULES_VERSION_KEY), tokens.get(OPEN_ALARMS_VERSION_KEY))
        with self.lock:
            self.checked_at = now
            if self.tokens is None or now - self.loaded_at >= MAX_AGE_S:
                self.sites.clear()
                self.open_keys.clear()
                self.loaded_at = now
            else:
                if current[0] != self.tokens[0]:
                    self.sites.clear()
                if current[1] != self.tokens[1]:
                    self.open_keys.clear()
            self.tokens = current


_process = _ProcessCache()


def site_rules(site_id: int) -> SiteRules:
    _process.refresh_if_changed()
    rules = _process.sites.get(site_id)
    if rules is None:
        rules = load_site_rules(site_id)
        _process.sites[site_id] = rules
    return rules


def open_alarm_keys(site_id: int) -> set[tuple[str, str]]:
    """(source key, alarm type) of the site's active rule alarms (not cleared, not closed)."""
    _process.refresh_if_changed()
    keys = _process.open_keys.get(site_id)
    if keys is None:
        from qms.models import Alarm

        keys = set(Alarm.objects.filter(site_id=site_id, state__in=ACTIVE_STATES, rule__isnull=False)
                   .values_list("source_key", "alarm_type"))
        _process.open_keys[site_id] = keys
    return keys


def note_open(site_id: int, key: tuple[str, str]) -> None:
    """This process raised it: know at once (the shared token follows on the alarm's commit)."""
    keys = _process.open_keys.get(site_id)
    if keys is not None:
        keys.add(key)


def note_closed(site_id: int, key: tuple[str, str]) -> None:
    keys = _process.open_keys.get(site_id)
    if keys is not None:
        keys.discard(key)


def _new_token(key: str) -> None:
    cache.set(key, secrets.token_hex(8), None)


def rules_changed() -> None:
    """Every process rebuilds its compiled rules (this one at once, others within CHECK_INTERVAL_S) — on commit."""
    def bump():
        _new_token(RULES_VERSION_KEY)
        with _process.lock:
            _process.sites.clear()
    transaction.on_commit(bump)


def open_alarms_changed() -> None:
    """Called after an alarm's commit (from alarm_changed)."""
    _new_token(OPEN_ALARMS_VERSION_KEY)
    with _process.lock:
        _process.open_keys.clear()


def reset() -> None:
    """Forget everything (tests)."""
    with _process.lock:
        _process.tokens = None
        _process.sites.clear()
        _process.open_keys.clear()


# --- compiling ------------------------------------------------------------------------------------------------


def load_site_rules(site_id: int) -> SiteRules:
    from qms.models import Characteristic, Equipment, ReactionRule

    rules = list(ReactionRule.objects.filter(site_id=site_id, enabled=True)
                 .prefetch_related("characteristics", "equipment", "lines"))
    compiled = SiteRules()
    if not rules:
        return compiled
    rows = list(Characteristic.objects.filter(site_id=site_id).exclude(status=Characteristic.Status.RETIRED)
                .values_list("id", "code", "equipment_id", "equipment__work_center__line_id", "nominal", "lsl",
                             "usl"))
    infos = [CharacteristicInfo(cid, code, equipment_id, line_id) for cid, code, equipment_id, line_id, *_ in rows]
    limits = {row[0]: Limits(nominal=row[4], lsl=row[5], usl=row[6]) for row in rows}
    compiled.equipment_of = {info.id: info.equipment_id for info in infos}
    machines = list(Equipment.objects.filter(site_id=site_id).values_list("id", "work_center__line_id"))
    checks: dict[int, list] = {}
    spc: dict[int, list] = {}
    stale: dict[int, list] = {}
    states: dict[int, list] = {}
    for rule in rules:
        spec = spec_of(rule)
        compiled.specs[rule.pk] = spec
        scope = scope_of(rule)
        if spec.trigger == EQUIPMENT_STATE:
            for equipment_id in equipment_in_scope(scope, machines, infos):
                states.setdefault(equipment_id, []).append(spec)
            continue
        for info in infos:
            if not scope.covers(info):
                continue
            if spec.trigger in MEASUREMENT_TRIGGERS:
                check = compile_check(spec, info.id, info.equipment_id, limits[info.id])
                if check is not None:
                    checks.setdefault(info.id, []).append(check)
            elif spec.trigger == SPC:
                spc.setdefault(info.id, []).append(spec)
            elif spec.trigger == STALE:
                stale.setdefault(info.id, []).append(spec)
    compiled.checks_by_characteristic = {k: tuple(v) for k, v in checks.items()}
    compiled.spc_by_characteristic = {k: tuple(v) for k, v in spc.items()}
    compiled.stale_by_characteristic = {k: tuple(v) for k, v in stale.items()}
    compiled.state_by_equipment = {k: tuple(v) for k, v in states.items()}
    return compiled


def spec_of(rule) -> RuleSpec:
    return RuleSpec(
        id=rule.pk, site_id=rule.site_id, trigger=rule.trigger, severity=rule.severity, threshold=rule.threshold,
        spc_rules=frozenset(rule.spc_rules or ()), equipment_states=frozenset(rule.equipment_states or ()),
    )


def scope_of(rule) -> RuleScope:
    """The rule's scope (prefetched relations are used when present)."""
    return RuleScope(
        characteristic_ids=frozenset(c.pk for c in rule.characteristics.all()),
        pattern=rule.characteristic_pattern or "",
        equipment_ids=frozenset(e.pk for e in rule.equipment.all()),
        line_ids=frozenset(line.pk for line in rule.lines.all()),
    )
