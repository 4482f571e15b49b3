"""Wiring: the seams that carry new data → reaction-rule evaluation (qms.rules) → actions (qms.services.reactions).

Every receiver runs after the commit that stored the data, in the process that stored it (ingest request, connector
runner, SPC worker): the alarm is raised without another queue hop. The measurement receiver is on the ingest hot
path: while a site has no measurement rules it returns after one dict lookup, and otherwise costs one pass over the
batch's points of characteristics that have rules (see docs/reaction-rules.md, "Cost on the ingest path").
Connected from QmsConfig.ready() via `connect()`.
"""
from __future__ import annotations

import logging

from qms.rules import evaluate_equipment_states, evaluate_points, match_spc_signal, match_stale
from qms.services import rule_cache

logger = logging.getLogger(__name__)
REFRESH_ON_KINDS = frozenset({"raised", "repeated", "cleared", "closed"})


def judge_new_measurements(sender, site_id: int, points, batch_id=None, **kwargs) -> None:
    rules = rule_cache.site_rules(site_id)
    if not rules.checks_by_characteristic:
        return
    triggers, normals = evaluate_points(points, rules.checks_by_characteristic, rule_cache.open_alarm_keys(site_id))
    if triggers or normals:
        from qms.services.reactions import react

        react(site_id, triggers, normals)


def react_to_spc_signal(sender, event, **kwargs) -> None:
    rules = rule_cache.site_rules(event.site_id)
    specs = rules.spc_by_characteristic.get(event.characteristic_id)
    if not specs:
        return
    evidence = {"spc": {"signal_id": event.id, "chart": event.chart, "rule": event.rule,
                        "measurement_ids": list(event.measurement_ids)},
                "chart": event.chart, "rule": event.rule}
    triggers = match_spc_signal(specs, rule=event.rule, characteristic_id=event.characteristic_id,
                                equipment_id=rules.equipment_of.get(event.characteristic_id), ts=event.ts,
                                value=event.value, evidence=evidence)
    if triggers:
        from qms.services.reactions import react

        react(event.site_id, triggers, [])


def _stale_changes(site_id: int, tags, *, resumed: bool) -> None:
    rules = rule_cache.site_rules(site_id)
    if not rules.stale_by_characteristic:
        return
    found = []
    for tag in tags:
        specs = rules.stale_by_characteristic.get(tag.characteristic_id)
        if not specs:
            continue
        evidence = {"connector": tag.connector, "tag": tag.source_ref, "expected_period_s": tag.expected_period_s,
                    "last_value_at": tag.last_value_at.isoformat() if tag.last_value_at else None}
        found += match_stale(specs, characteristic_id=tag.characteristic_id, equipment_id=tag.equipment_id,
                             since=tag.stale_since, resumed=resumed, evidence=evidence)
    if found:
        from qms.services.reactions import react

        react(site_id, [] if resumed else found, found if resumed else [])


def react_to_stale_data(sender, site_id: int, tags, **kwargs) -> None:
    _stale_changes(site_id, tags, resumed=False)


def react_to_resumed_data(sender, site_id: int, tags, **kwargs) -> None:
    _stale_changes(site_id, tags, resumed=True)


def react_to_equipment_states(sender, site_id: int, changes, **kwargs) -> None:
    rules = rule_cache.site_rules(site_id)
    if not rules.state_by_equipment:
        return
    triggers, normals = evaluate_equipment_states(changes, rules.state_by_equipment,
                                                  rule_cache.open_alarm_keys(site_id))
    if triggers or normals:
        from qms.services.reactions import react

        react(site_id, triggers, normals)


def refresh_open_alarms(sender, kind: str = "", **kwargs) -> None:
    """An alarm opened, repeated (maybe active again), cleared or closed: every process re-reads the open keys."""
    if kind in REFRESH_ON_KINDS:
        rule_cache.open_alarms_changed()


def rules_inputs_changed(sender, **kwargs) -> None:
    """A characteristic's limits or a machine's line may have changed: recompile."""
    rule_cache.rules_changed()


def connect() -> None:
    from django.db.models.signals import post_delete, post_save

    from connectors.seams import data_resumed, data_stale
    from qms.models import Characteristic, Equipment, EquipmentStateEvent, Measurement
    from qms.seams import alarm_changed, equipment_state_recorded, measurements_stored
    from spc.seams import spc_signal_raised

    measurements_stored.connect(judge_new_measurements, sender=Measurement, dispatch_uid="reaction-rules-measurements")
    spc_signal_raised.connect(react_to_spc_signal, dispatch_uid="reaction-rules-spc")
    data_stale.connect(react_to_stale_data, dispatch_uid="reaction-rules-stale")
    data_resumed.connect(react_to_resumed_data, dispatch_uid="reaction-rules-resumed")
    equipment_state_recorded.connect(react_to_equipment_states, sender=EquipmentStateEvent,
                                     dispatch_uid="reaction-rules-equipment-states")
    alarm_changed.connect(refresh_open_alarms, dispatch_uid="reaction-rules-open-alarms")
    for model in (Characteristic, Equipment):
        post_save.connect(rules_inputs_changed, sender=model, dispatch_uid=f"reaction-rules-{model.__name__}-saved")
        post_delete.connect(rules_inputs_changed, sender=model,
                            dispatch_uid=f"reaction-rules-{model.__name__}-deleted")
