"""What a reaction rule does when it trips, and when its condition returns to normal.

    react(site_id, triggers, normals)

Called in-process right after the commit that stored the offending data (the seams are sent on commit), so the alarm
reaches the supervisor without another queue hop. Per trigger, in ONE transaction:
  alarms.raise_alarm(...)                      → created, or a repeat of the open alarm (occurrences + 1)
  when created, or when the repeat made a CLEARED (not yet closed) alarm active again (AlarmRaise.reactivated):
    holds.freeze_window(equipment, start, None, propagate_forward, alarm)   (rule.freeze; a new window each time)
        start = the last good value of the characteristic before the trigger, no earlier than the look-back
        (freeze_from "last_good"), or trigger − look-back ("lookback" and every non-measurement trigger)
    alarms.mark_contained(alarm, at=now, hold_id)
    connectors.writeback.queue_writeback(..., idempotency_key=f"alarm-{id}-hold")  (rule.hold_command;
        "alarm-{id}-hold-{n}" for the n-th activation, n ≥ 2)
    notifications.notify_groups(rule.notify_groups, ...)
    on commit: qms.seams.nc_draft_requested(NcDraftRequest)                  (rule.open_nc_draft; on a
        re-activation only when the alarm has no NC yet)
A redelivered batch or a repeating trigger on an active alarm finds it open (created=False, reactivated=False):
nothing is frozen or sent twice.
If an action fails (a hold refused, the connector gone), the transaction rolls back and the alarm is raised alone,
with the failure in its evidence: the supervisor still learns of the excursion.
Per normal: alarms.clear_open_alarm(...), which closes the alarm's open hold windows at the clear time.
Everything is done as the actor "rule:<name>", so the audit trail names the rule.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from qms.audit.context import Actor, acting_as
from qms.models import Characteristic, Equipment, Measurement, ReactionRule
from qms.rules import Normal, Trigger
from qms.rules.spec import DEVIATION, SPEC
from qms.seams import NcDraftRequest, nc_draft_requested
from qms.services import alarm_text, rule_cache
from traceability.services.holds import lock_for_freeze

logger = logging.getLogger(__name__)
NOTIFICATION_KIND = "alarm"


def react(site_id: int, triggers: list[Trigger], normals: list[Normal]) -> None:
    """Act on a batch's triggers, then its returns to normal (a batch that went bad and back does both, in order).
    Each is isolated: one failing never stops the others (logged)."""
    rules = _rules({t.rule_id for t in triggers} | {n.rule_id for n in normals})
    for trigger in triggers:
        rule = rules.get(trigger.rule_id)
        if rule is None or not rule.enabled:
            continue
        try:
            react_to_trigger(rule, trigger)
        except Exception:  # the data is stored; an alarm that cannot be raised must not break ingestion
            logger.exception("reaction rule %s: could not raise the alarm for %s", rule.pk, trigger.source_key)
    for normal in normals:
        rule = rules.get(normal.rule_id)
        if rule is None:
            continue
        try:
            return_to_normal(rule, normal)
        except Exception:
            logger.exception("reaction rule %s: could not clear the alarm of %s", rule.pk, normal.source_key)


def _rules(rule_ids) -> dict[int, ReactionRule]:
    if not rule_ids:
        return {}
    return {rule.pk: rule for rule in ReactionRule.objects.filter(pk__in=rule_ids)
            .select_related("site", "writeback_connector")}


def _rule_actor(rule: ReactionRule) -> Actor:
    return Actor(label=f"rule:{rule.name}"[:150])


# --- tripping ----------------------------------------------------------------------------------------------------


def react_to_trigger(rule: ReactionRule, trigger: Trigger):
    """Raise (or repeat) the rule's alarm; on a new alarm run the rule's actions. Returns the AlarmRaise."""
    from qms.services import alarms

    characteristic = _characteristic(trigger.characteristic_id)
    equipment = _equipment(trigger.equipment_id, characteristic)
    title, message = describe(rule, trigger, characteristic, equipment)
    evidence = _evidence(rule, trigger, characteristic, equipment)
    evidence["text"] = describe_text(rule, trigger, characteristic, equipment)
    raise_kwargs = dict(
        site=rule.site, source_key=trigger.source_key, alarm_type=trigger.alarm_type, severity=rule.severity,
        title=title, message=message, trigger_ts=trigger.ts, trigger_value=trigger.value, rule=rule,
        equipment=equipment, characteristic=characteristic,
    )
    with acting_as(_rule_actor(rule), reason=title):
        try:
            with transaction.atomic():
                if rule.freeze and equipment is not None and _may_act(rule, trigger):
                    # raise_alarm appends to the audit chain (locks its head); the freeze's equipment and site
                    # locks must come first, as every writer takes them (a run starting on the machine: equipment
                    # → head), or the two transactions deadlock and the freeze is lost.
                    lock_for_freeze(equipment, propagate_forward=rule.freeze_propagate_forward)
                outcome = alarms.raise_alarm(evidence=evidence, **raise_kwargs)
                if outcome.created or outcome.reactivated:
                    _act(rule, outcome.alarm, trigger, characteristic, equipment, evidence,
                         activation=1 if outcome.created else _activation(outcome.alarm))
        except Exception as error:
            logger.exception("reaction rule %s: actions failed for %s; raising the alarm alone", rule.pk,
                             trigger.source_key)
            evidence["action_error"] = f"{type(error).__name__}: {error}"[:500]
            outcome = alarms.raise_alarm(evidence=evidence, **raise_kwargs)
    rule_cache.note_open(rule.site_id, trigger.key)
    return outcome


def _may_act(rule: ReactionRule, trigger: Trigger) -> bool:
    """Whether this trigger may raise or re-activate its alarm (the rule then acts): not when the alarm is open and
    not cleared (a repeat). A race that makes it a repeat after all only costs the locks taken for nothing."""
    from qms.models import Alarm

    return not (Alarm.objects.filter(site_id=rule.site_id, source_key=trigger.source_key,
                                     alarm_type=trigger.alarm_type)
                .filter(state__in=(Alarm.State.ACTIVE_UNACKNOWLEDGED, Alarm.State.ACKNOWLEDGED)).exists())


def _activation(alarm) -> int:
    """Which activation of the alarm this is: each re-activation follows exactly one clear."""
    from qms.models import AlarmEvent

    return 1 + AlarmEvent.objects.filter(alarm=alarm, kind=AlarmEvent.Kind.CLEARED).count()


def _act(rule, alarm, trigger: Trigger, characteristic, equipment, evidence: dict, *, activation: int = 1) -> None:
    from qms.services import alarms

    holds = []
    if rule.freeze:
        if equipment is None:
            evidence["freeze_skipped"] = "no equipment"
        else:
            holds.append(_freeze(rule, alarm, trigger, characteristic, equipment))
            alarms.mark_contained(alarm.pk, at=timezone.now(), hold_id=holds[0].pk)
    held_lots = _held_lot_codes(holds)
    if rule.hold_command and rule.writeback_connector_id:
        _send_hold_command(rule, alarm, equipment, held_lots, activation)
    groups = list(rule.notify_groups.all())
    if groups:
        from qms.services.notifications import notify_groups

        notify_groups(groups, site=rule.site, kind=NOTIFICATION_KIND, title=alarm.title, body=alarm.message,
                      link=_alarm_link(alarm.pk))
    if rule.open_nc_draft and (activation == 1 or not _has_nc(alarm)):
        request = NcDraftRequest(
            site_id=rule.site_id, alarm_id=alarm.pk, rule_id=rule.pk, characteristic_id=trigger.characteristic_id,
            equipment_id=equipment.pk if equipment is not None else None,
            hold_ids=tuple(hold.pk for hold in holds), evidence={**evidence, "held_lots": held_lots},
        )
        transaction.on_commit(lambda: nc_draft_requested.send_robust(sender=ReactionRule, request=request))


def freeze_start(rule: ReactionRule, trigger: Trigger) -> datetime:
    """From the last good value before the trigger (measurement rules with freeze_from "last_good"), never earlier
    than the look-back; otherwise the trigger time minus the look-back."""
    earliest = trigger.ts - timedelta(seconds=rule.freeze_lookback_s)
    if rule.freeze_from != ReactionRule.FreezeFrom.LAST_GOOD or trigger.alarm_type not in (DEVIATION, SPEC):
        return earliest
    last_good = trigger.last_good_ts
    if last_good is None:
        last_good = _last_good_in_database(rule, trigger, earliest)
    return max(last_good, earliest) if last_good is not None else earliest


def _last_good_in_database(rule: ReactionRule, trigger: Trigger, earliest: datetime) -> datetime | None:
    """The newest stored value of the characteristic before the trigger that the rule judges good (the
    (characteristic, ts) index walks backwards from the trigger)."""
    low, high = _good_range(rule, trigger)
    rows = (Measurement.objects.filter(characteristic_id=trigger.characteristic_id, ts__lt=trigger.ts,
                                       ts__gte=earliest, value__gte=low, value__lte=high, quality__lte=1)
            .order_by("-ts").values_list("ts", flat=True)[:1])
    return next(iter(rows), None)


def _good_range(rule: ReactionRule, trigger: Trigger) -> tuple[float, float]:
    evidence = trigger.evidence
    if trigger.alarm_type == DEVIATION:
        return evidence["nominal"] - evidence["threshold"], evidence["nominal"] + evidence["threshold"]
    low = evidence.get("lsl")
    high = evidence.get("usl")
    return (low if low is not None else float("-inf")), (high if high is not None else float("inf"))


def _freeze(rule, alarm, trigger: Trigger, characteristic, equipment):
    from traceability.services.holds import freeze_window

    reason = _("Alarm %(id)s: %(title)s") % {"id": alarm.pk, "title": alarm.title}
    return freeze_window(equipment, freeze_start(rule, trigger), None, reason=reason[:500],
                         propagate_forward=rule.freeze_propagate_forward, alarm=alarm)


def _held_lot_codes(holds) -> list[str]:
    if not holds:
        return []
    from traceability.models import HoldLot

    return sorted(set(HoldLot.objects.filter(hold__in=holds).values_list("lot__code", flat=True)))


def _has_nc(alarm) -> bool:
    from qms.models import Nonconformance

    return Nonconformance.objects.filter(alarm=alarm).exists()


def _send_hold_command(rule, alarm, equipment, held_lots: list[str], activation: int = 1) -> None:
    from connectors.writeback import queue_writeback

    value = rule.writeback_value
    if value is None:
        value = {"command": "hold", "alarm": alarm.pk, "equipment": equipment.code if equipment else None,
                 "lots": held_lots, "reason": alarm.title}
    queue_writeback(rule.writeback_connector, rule.writeback_target, value,
                    reason=_("hold for alarm %(id)s: %(title)s") % {"id": alarm.pk, "title": alarm.title},
                    idempotency_key=_hold_command_key(alarm.pk, activation), requested_by=f"rule:{rule.name}")


def _hold_command_key(alarm_id: int, activation: int) -> str:
    return f"alarm-{alarm_id}-hold" if activation == 1 else f"alarm-{alarm_id}-hold-{activation}"


def _alarm_link(alarm_id: int) -> str:
    try:
        return reverse("alarm-detail", args=[alarm_id])
    except NoReverseMatch:
        return ""


def _characteristic(characteristic_id):
    if characteristic_id is None:
        return None
    return (Characteristic.objects.select_related("equipment__work_center__line")
            .filter(pk=characteristic_id).first())


def _equipment(equipment_id, characteristic):
    if characteristic is not None and characteristic.equipment_id == equipment_id:
        return characteristic.equipment
    if equipment_id is None:
        return characteristic.equipment if characteristic is not None else None
    return Equipment.objects.select_related("work_center__line").filter(pk=equipment_id).first()


def describe(rule, trigger: Trigger, characteristic, equipment) -> tuple[str, str]:
    """The alarm's title and message, in the words a supervisor reads — in English, whatever language the raising
    request had active (stored as the fallback); `describe_text` is what the pages render per reader."""
    text = describe_text(rule, trigger, characteristic, equipment)
    return alarm_text.render_english(text["title"]), alarm_text.render_english(text["message"])


def describe_text(rule, trigger: Trigger, characteristic, equipment) -> dict:
    """The title and message language-neutral (message id + parameters, see qms.services.alarm_text)."""
    subject = characteristic.code if characteristic is not None else (equipment.code if equipment else "?")
    unit = f" {characteristic.unit}" if characteristic is not None and characteristic.unit else ""
    evidence = trigger.evidence
    if trigger.alarm_type == DEVIATION:
        title = alarm_text.text(alarm_text.DEVIATION, subject=subject, value=_fmt(trigger.value), unit=unit,
                                nominal=_fmt(evidence["nominal"]), threshold=_fmt(evidence["threshold"]))
    elif trigger.alarm_type == SPEC:
        title = alarm_text.text(alarm_text.SPEC, subject=subject, value=_fmt(trigger.value), unit=unit,
                                lsl=_fmt(evidence.get("lsl")), usl=_fmt(evidence.get("usl")))
    elif trigger.alarm_type == "spc":
        title = alarm_text.text(alarm_text.SPC, subject=subject, rule=str(evidence.get("rule", "?")),
                                chart=str(evidence.get("chart", "?")))
    elif trigger.alarm_type == "stale":
        since = evidence.get("last_value_at")
        title = (alarm_text.text(alarm_text.STALE, subject=subject, since=str(since)) if since
                 else alarm_text.text(alarm_text.STALE_NEVER, subject=subject))
    else:
        title = alarm_text.text(alarm_text.STATE, subject=subject, state=str(evidence.get("state")))
    message = alarm_text.text(alarm_text.RULE_MESSAGE, rule=rule.name, count=trigger.count,
                              ts=trigger.ts.isoformat())
    return {"title": title, "message": message}


def _fmt(value) -> str:
    if value is None:
        return "—"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _evidence(rule, trigger: Trigger, characteristic, equipment) -> dict:
    evidence = {
        "rule": {"id": rule.pk, "name": rule.name, "version": rule.version, "trigger": rule.trigger},
        "trigger_ts": trigger.ts.isoformat(), "value": trigger.value,
        "worst_ts": trigger.worst_ts.isoformat() if trigger.worst_ts else None,
        "last_ts": trigger.last_ts.isoformat() if trigger.last_ts else None,
        "count": trigger.count, "measurement_id": trigger.measurement_id,
        "last_good_ts": trigger.last_good_ts.isoformat() if trigger.last_good_ts else None,
        **{key: value for key, value in trigger.evidence.items()},
    }
    if characteristic is not None:
        evidence["characteristic"] = {"id": characteristic.pk, "code": characteristic.code,
                                      "unit": characteristic.unit}
    if equipment is not None:
        evidence["equipment"] = {"id": equipment.pk, "code": equipment.code}
    return evidence


# --- back to normal -------------------------------------------------------------------------------------------


def return_to_normal(rule: ReactionRule, normal: Normal):
    """Clear the rule's active alarm for this source (clearing closes the windows of the holds it placed at
    `normal.ts`)."""
    from qms.services import alarms

    reason = _("back to normal at %(ts)s (reaction rule “%(rule)s”)") % {"ts": normal.ts.isoformat(),
                                                                      "rule": rule.name}
    with acting_as(_rule_actor(rule), reason=reason), transaction.atomic():
        alarm = alarms.clear_open_alarm(rule.site_id, normal.source_key, normal.alarm_type, at=normal.ts,
                                        reason=reason)
    rule_cache.note_closed(rule.site_id, normal.key)
    return alarm
