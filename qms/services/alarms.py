"""The alarm lifecycle: raise (or repeat), acknowledge, contain, clear, close, shelve, unshelve, escalate.

States (docs/alarms.md):  active_unacknowledged → acknowledged → cleared → closed, and
active_unacknowledged → cleared (cleared before anyone acknowledged; still needs an acknowledgement to close).

Every transition is one function here: it locks the alarm row (select_for_update), bumps `version`, appends one
AlarmEvent (whose id is the cursor the live pages and integrators resume from, with the alarm's snapshot after the
change), writes an audit entry and sends `qms.seams.alarm_changed` after the commit.

Repeats don't flood: an open alarm with the same (site, source_key, alarm_type) absorbs a new trigger — the counter
and last_triggered_at always move, but a "repeated" event (with its audit entry and seam message) is written at most
once per ALARM_REPEAT_EVENT_INTERVAL_S per alarm, unless the repeat changes something that matters (severity raised,
a cleared alarm active again).
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from qms import seams
from qms.audit.chain import record_audit
from qms.audit.context import Actor, actor_for_user, current_actor
from qms.models import Alarm, AlarmEvent, AuditEntry
from qms.services import alarm_text

SEVERITY_RANK = {
    Alarm.Severity.WARNING: 1,
    Alarm.Severity.MINOR: 2,
    Alarm.Severity.MAJOR: 3,
    Alarm.Severity.CRITICAL: 4,
}
_COMMENT_MAX = AlarmEvent._meta.get_field("comment").max_length
_ACTOR_MAX = AlarmEvent._meta.get_field("actor").max_length
_ACK_COMMENT_MAX = Alarm._meta.get_field("ack_comment").max_length
_SHELVE_REASON_MAX = Alarm._meta.get_field("shelved_reason").max_length
_TITLE_MAX = Alarm._meta.get_field("title").max_length
_SOURCE_KEY_MAX = Alarm._meta.get_field("source_key").max_length
_AUDIT_MODEL = "qms.alarm"
# Relations that never change after raising, safe to join into a locking read. Not acknowledged_by: after waiting
# for a lock PostgreSQL re-reads the locked row but keeps the joined rows of the old snapshot, so a join would show
# "nobody acknowledged" beside an acknowledged_by_id another transaction just set.
_FIXED_RELATIONS = ("site", "line", "equipment", "characteristic")
_RAISE_ATTEMPTS = 3


def repeat_event_interval() -> timedelta:
    return timedelta(seconds=float(getattr(settings, "ALARM_REPEAT_EVENT_INTERVAL_S", 1.0)))


def shelve_max() -> timedelta:
    return timedelta(hours=float(getattr(settings, "ALARM_SHELVE_MAX_HOURS", 24)))


def escalation_max_level() -> int:
    return int(getattr(settings, "ALARM_ESCALATION_MAX_LEVEL", 3))


class AlarmError(Exception):
    """A transition that is not allowed now (API 409) or bad input (API 400, see BAD_INPUT_CODES)."""

    BAD_INPUT_CODES = frozenset({"reason_required", "until_required", "until_in_past", "until_too_far",
                                 "invalid_severity", "invalid_type", "invalid_input"})

    def __init__(self, code: str, message: str, *, field: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    @property
    def is_bad_input(self) -> bool:
        return self.code in self.BAD_INPUT_CODES


class AlarmRaise(NamedTuple):
    alarm: Alarm
    created: bool
    event_id: int
    # A repeat that made a cleared (not yet closed) alarm active again: the condition came back, so the rule's
    # containment (a new freeze window, the hold command) is due again although no alarm was created.
    reactivated: bool = False


# --- snapshot --------------------------------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _code(related) -> str | None:
    return related.code if related is not None else None


def alarm_snapshot(alarm: Alarm) -> dict:
    """The alarm as the live pages render it (JSON-ready). Also stored on each AlarmEvent after its transition."""
    return {
        "id": alarm.pk,
        "site": alarm.site.code,
        "line": _code(alarm.line),
        "equipment": _code(alarm.equipment),
        "characteristic": _code(alarm.characteristic),
        "alarm_type": alarm.alarm_type,
        "severity": alarm.severity,
        "state": alarm.state,
        "title": alarm_text.alarm_title(alarm),  # in the active language; `text` lets a reader re-render it
        "message": alarm_text.alarm_message(alarm),
        "text": alarm_text.stored_text(alarm) or None,
        "trigger_ts": _iso(alarm.trigger_ts),
        "trigger_value": alarm.trigger_value,
        "raised_at": _iso(alarm.raised_at),
        "last_triggered_at": _iso(alarm.last_triggered_at),
        "occurrences": alarm.occurrences,
        "acknowledged_at": _iso(alarm.acknowledged_at),
        "acknowledged_by": alarm.acknowledged_by.get_username() if alarm.acknowledged_by_id else None,
        "contained_at": _iso(alarm.contained_at),
        "cleared_at": _iso(alarm.cleared_at),
        "shelved_until": _iso(alarm.shelved_until),
        "escalation_level": alarm.escalation_level,
        "version": alarm.version,
        "url": f"/alarms/{alarm.pk}/",
    }


# --- shared transition plumbing ------------------------------------------------------------------------------------


def _locked(alarm_id) -> Alarm:
    try:
        return (Alarm.objects.select_for_update(of=("self",), no_key=True)
                .select_related(*_FIXED_RELATIONS)
                .get(pk=alarm_id))
    except (Alarm.DoesNotExist, ValueError, TypeError):
        raise AlarmError("not_found", _("Alarm %(id)s does not exist.") % {"id": alarm_id}) from None


def _actor(user) -> Actor:
    return actor_for_user(user) if user is not None else current_actor()


def _record_transition(alarm: Alarm, kind: str, *, at: datetime, changes: dict, actor: Actor,
                       comment: str = "", reason: str | None = None) -> AlarmEvent:
    """Save the alarm (version+1), append its event and audit entry, and announce it after the commit."""
    alarm.version += 1
    alarm.latest_event_at = at
    alarm.save()
    event = AlarmEvent.objects.create(alarm=alarm, site_id=alarm.site_id, line_id=alarm.line_id, kind=kind, at=at,
                                      actor=actor.label[:_ACTOR_MAX], comment=(comment or "")[:_COMMENT_MAX],
                                      snapshot=alarm_snapshot(alarm))
    alarm.latest_event_id = event.pk
    Alarm.objects.filter(pk=alarm.pk).update(latest_event_id=event.pk)
    action = AuditEntry.Action.CREATE if kind == AlarmEvent.Kind.RAISED else AuditEntry.Action.TRANSITION
    record_audit(action=action, model=_AUDIT_MODEL, object_pk=alarm.pk, object_repr=str(alarm)[:200],
                 site_id=alarm.site_id,
                 changes={"event": [None, kind], **changes, "version": [alarm.version - 1, alarm.version]},
                 reason=comment if reason is None else reason, actor=actor)
    _announce_on_commit(alarm, event)
    return event


def _announce_on_commit(alarm: Alarm, event: AlarmEvent) -> None:
    alarm_id, site_id, line_id, event_id, kind = alarm.pk, alarm.site_id, alarm.line_id, event.pk, event.kind
    transaction.on_commit(lambda: seams.alarm_changed.send(
        sender=Alarm, alarm_id=alarm_id, site_id=site_id, line_id=line_id, event_id=event_id, kind=kind))


def _change(alarm: Alarm, changes: dict, field: str, value) -> None:
    before = getattr(alarm, field)
    if before != value:
        changes[field if not field.endswith("_id") else field[:-3]] = [before, value]
        setattr(alarm, field, value)


def _refuse_closed(alarm: Alarm) -> None:
    if alarm.state == Alarm.State.CLOSED:
        raise AlarmError("alarm_closed", _("Alarm %(id)s is closed.") % {"id": alarm.pk})


# --- raise / repeat --------------------------------------------------------------------------------------------------


def raise_alarm(*, site, source_key: str, alarm_type: str, severity: str, title: str, trigger_ts: datetime,
                trigger_value: float | None = None, message: str = "", evidence: dict | None = None, rule=None,
                line=None, equipment=None, characteristic=None, now: datetime | None = None) -> AlarmRaise:
    """Raise an alarm, or count a repeat on the open alarm with the same (site, source_key, alarm_type)."""
    if severity not in SEVERITY_RANK:
        raise AlarmError("invalid_severity", _("Unknown severity: %(value)s") % {"value": severity}, field="severity")
    if alarm_type not in Alarm.Type.values:
        raise AlarmError("invalid_type", _("Unknown alarm type: %(value)s") % {"value": alarm_type},
                         field="alarm_type")
    if not source_key or len(source_key) > _SOURCE_KEY_MAX:
        raise AlarmError("invalid_input", _("The source key must have 1 to %(max)d characters.")
                         % {"max": _SOURCE_KEY_MAX}, field="source_key")
    if trigger_value is not None and not math.isfinite(trigger_value):
        trigger_value = None  # JSON and the UI cannot show NaN/inf; the evidence keeps what the rule saw
    now = now or timezone.now()
    counted = _count_repeat_fast(site, source_key, alarm_type, severity, now)
    if counted is not None:
        return counted
    if line is None and equipment is not None:
        line = equipment.work_center.line
    for _attempt in range(_RAISE_ATTEMPTS - 1):
        try:
            return _raise_or_repeat(site, source_key, alarm_type, severity, title, trigger_ts, trigger_value,
                                    message, evidence, rule, line, equipment, characteristic, now)
        except IntegrityError:
            # Another transaction created the open alarm for this key between our look-up and our insert (the
            # partial unique constraint refused ours after it committed): run again, it now finds and repeats it.
            continue
    return _raise_or_repeat(site, source_key, alarm_type, severity, title, trigger_ts, trigger_value, message,
                            evidence, rule, line, equipment, characteristic, now)


def _raise_or_repeat(site, source_key, alarm_type, severity, title, trigger_ts, trigger_value, message, evidence,
                     rule, line, equipment, characteristic, now) -> AlarmRaise:
    actor = current_actor()
    with transaction.atomic():
        alarm = (Alarm.objects.select_for_update(of=("self",), no_key=True)
                 .select_related(*_FIXED_RELATIONS)
                 .filter(site=site, source_key=source_key, alarm_type=alarm_type)
                 .exclude(state=Alarm.State.CLOSED).first())
        if alarm is not None:
            return _repeat(alarm, severity, trigger_ts, trigger_value, now, actor)
        with transaction.atomic():  # savepoint: a lost race leaves the outer transaction usable for the caller
            alarm = Alarm.objects.create(
                site=site, line=line, equipment=equipment, characteristic=characteristic, rule=rule,
                source_key=source_key, alarm_type=alarm_type, severity=severity, title=(title or "")[:_TITLE_MAX],
                message=message or "", evidence=evidence or {}, trigger_ts=trigger_ts, trigger_value=trigger_value,
                raised_at=now, last_triggered_at=now, occurrences=1, version=0,
            )
        event = _record_transition(alarm, AlarmEvent.Kind.RAISED, at=now, actor=actor, comment="", reason="",
                                   changes={"state": [None, alarm.state], "severity": [None, severity],
                                            "source_key": [None, source_key], "alarm_type": [None, alarm_type],
                                            "trigger_value": [None, trigger_value],
                                            "trigger_ts": [None, trigger_ts]})
        return AlarmRaise(alarm, True, event.pk)


def _count_repeat_fast(site, source_key, alarm_type, severity, now) -> AlarmRaise | None:
    """The storm path: a repeat that changes nothing but the counter, within the event interval, is one
    UPDATE … RETURNING (row-locked like any update, so it serialises with transitions). None when the repeat needs
    the full path (no open alarm, higher severity, cleared alarm, or a repeat event is due)."""
    at_least = [value for value, rank in SEVERITY_RANK.items() if rank >= SEVERITY_RANK[severity]]
    quote = connection.ops.quote_name
    columns = [field.column for field in Alarm._meta.concrete_fields]
    sql = (
        f"UPDATE {quote(Alarm._meta.db_table)} SET occurrences = occurrences + 1, "
        "last_triggered_at = CASE WHEN last_triggered_at < %s THEN %s ELSE last_triggered_at END "
        "WHERE site_id = %s AND source_key = %s AND alarm_type = %s AND state IN (%s, %s) "
        f"AND latest_event_at > %s AND severity IN ({', '.join(['%s'] * len(at_least))}) "
        f"RETURNING {', '.join(quote(column) for column in columns)}"
    )
    params = [now, now, site.pk, source_key, alarm_type, Alarm.State.ACTIVE_UNACKNOWLEDGED, Alarm.State.ACKNOWLEDGED,
              now - repeat_event_interval(), *at_least]
    with connection.cursor() as cursor:  # one statement: atomic by itself, no savepoint needed
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    alarm = Alarm.from_db(connection.alias, [field.attname for field in Alarm._meta.concrete_fields],
                          [_from_db(field, value) for field, value in zip(Alarm._meta.concrete_fields, row, strict=True)])
    alarm.site = site
    return AlarmRaise(alarm, False, alarm.latest_event_id)


def _from_db(field, value):
    """Convert a raw column value as the ORM would (backend converters first, e.g. SQLite's datetimes)."""
    column = field.get_col(Alarm._meta.db_table)
    for converter in connection.ops.get_db_converters(column) + field.get_db_converters(connection):
        value = converter(value, column, connection)
    return value


def _repeat(alarm: Alarm, severity, trigger_ts, trigger_value, now, actor) -> AlarmRaise:
    changes: dict = {"occurrences": [alarm.occurrences, alarm.occurrences + 1]}
    alarm.occurrences += 1
    alarm.last_triggered_at = max(alarm.last_triggered_at, now)
    significant = False
    if SEVERITY_RANK[severity] > SEVERITY_RANK[alarm.severity]:
        _change(alarm, changes, "severity", severity)
        significant = True
    comment = ""
    reactivated = alarm.state == Alarm.State.CLEARED
    if reactivated:
        # The condition came back before anyone closed the alarm: it is active again. An acknowledgement already
        # given stands (the supervisor knows about this alarm), so it returns to "acknowledged" in that case.
        state = Alarm.State.ACKNOWLEDGED if alarm.acknowledged_at else Alarm.State.ACTIVE_UNACKNOWLEDGED
        _change(alarm, changes, "state", state)
        _change(alarm, changes, "cleared_at", None)
        _change(alarm, changes, "trigger_ts", trigger_ts)
        _change(alarm, changes, "trigger_value", trigger_value)
        comment = _("active again")
        significant = True
    due = alarm.latest_event_at is None or now - alarm.latest_event_at >= repeat_event_interval()
    if not (significant or due):
        # Counted, not announced: the row carries the latest count; the next event will show it.
        alarm.save(update_fields=["occurrences", "last_triggered_at"])
        return AlarmRaise(alarm, False, alarm.latest_event_id)
    event = _record_transition(alarm, AlarmEvent.Kind.REPEATED, at=now, changes=changes, actor=actor,
                               comment=comment, reason="")
    return AlarmRaise(alarm, False, event.pk, reactivated)


# --- acknowledge / clear / close -------------------------------------------------------------------------------------


def acknowledge_alarm(alarm_id, *, user, comment: str = "", now: datetime | None = None) -> Alarm:
    """The supervisor has seen it. Allowed once, while the alarm is open (active, or cleared before anyone
    acknowledged). A second acknowledgement → AlarmError("already_acknowledged"); the first stays on record."""
    now = now or timezone.now()
    comment = (comment or "").strip()
    with transaction.atomic():
        alarm = _locked(alarm_id)
        _refuse_closed(alarm)
        if alarm.acknowledged_at is not None:
            raise AlarmError("already_acknowledged", _("Alarm %(id)s was already acknowledged by %(user)s at %(at)s.")
                             % {"id": alarm.pk, "user": alarm.acknowledged_by or _("someone"),
                                "at": alarm.acknowledged_at.isoformat()})
        changes: dict = {}
        if alarm.state == Alarm.State.ACTIVE_UNACKNOWLEDGED:
            _change(alarm, changes, "state", Alarm.State.ACKNOWLEDGED)
        _change(alarm, changes, "acknowledged_at", now)
        _change(alarm, changes, "acknowledged_by_id", getattr(user, "pk", None))
        alarm.acknowledged_by = user if getattr(user, "pk", None) else None
        _change(alarm, changes, "ack_comment", comment[:_ACK_COMMENT_MAX])
        _record_transition(alarm, AlarmEvent.Kind.ACKNOWLEDGED, at=now, changes=changes, actor=_actor(user),
                           comment=comment)
    return alarm


def clear_alarm(alarm_id, *, at: datetime | None = None, reason: str = "", user=None) -> Alarm:
    """The condition returned to normal (said by the system, e.g. a rule seeing good values again, or by a user).
    The alarm's open freeze windows close at `at` in the same transaction."""
    at = at or timezone.now()
    with transaction.atomic():
        alarm = _locked(alarm_id)
        _refuse_closed(alarm)
        if alarm.state == Alarm.State.CLEARED:
            raise AlarmError("already_cleared", _("Alarm %(id)s is already cleared.") % {"id": alarm.pk})
        from traceability.services.holds import lock_alarm_windows

        lock_alarm_windows(alarm.pk)  # the windows closed below, locked before this transition's audit entry
        changes: dict = {}
        _change(alarm, changes, "state", Alarm.State.CLEARED)
        _change(alarm, changes, "cleared_at", at)
        _record_transition(alarm, AlarmEvent.Kind.CLEARED, at=at, changes=changes, actor=_actor(user),
                           comment=reason)
        _close_hold_windows(alarm, at)
    return alarm


def _close_hold_windows(alarm: Alarm, end: datetime) -> None:
    """The condition is over: the freeze windows the alarm opened end at the clear time (in the caller's
    transaction, so a clear never leaves a window collecting lots). A window that cannot close there refuses the
    clear (AlarmError "hold_window", nothing changed)."""
    from traceability.services.holds import HoldError, close_alarm_windows

    try:
        close_alarm_windows(alarm.pk, end=end)
    except HoldError as error:
        raise AlarmError("hold_window", _("Alarm %(id)s: its hold window cannot be closed at %(at)s: %(error)s")
                         % {"id": alarm.pk, "at": end.isoformat(), "error": error.message}) from None


def clear_open_alarm(site_id, source_key: str, alarm_type: str, *, at: datetime, reason: str = "") -> Alarm | None:
    """Clear the open, not yet cleared alarm of this key, if there is one (for rules seeing the value back in range).
    Returns None when there is nothing to clear — a normal value usually has no alarm behind it."""
    alarm_id = (Alarm.objects.filter(site_id=site_id, source_key=source_key, alarm_type=alarm_type,
                                     state__in=(Alarm.State.ACTIVE_UNACKNOWLEDGED, Alarm.State.ACKNOWLEDGED))
                .values_list("pk", flat=True).first())
    if alarm_id is None:
        return None
    try:
        return clear_alarm(alarm_id, at=at, reason=reason)
    except AlarmError as error:
        if error.code in ("already_cleared", "alarm_closed"):  # someone else got there first: nothing left to do
            return None
        raise


def close_alarm(alarm_id, *, user, comment: str = "", now: datetime | None = None) -> Alarm:
    """Done with it: only a cleared and acknowledged alarm can be closed. A new trigger then raises a new alarm."""
    now = now or timezone.now()
    with transaction.atomic():
        alarm = _locked(alarm_id)
        _refuse_closed(alarm)
        if alarm.state != Alarm.State.CLEARED:
            raise AlarmError("not_cleared", _("Alarm %(id)s is still active: it can be closed once it has cleared.")
                             % {"id": alarm.pk})
        if alarm.acknowledged_at is None:
            raise AlarmError("not_acknowledged", _("Alarm %(id)s must be acknowledged before it is closed.")
                             % {"id": alarm.pk})
        _close_hold_windows(alarm, alarm.cleared_at or now)  # a window left open by an earlier version
        changes: dict = {}
        _change(alarm, changes, "state", Alarm.State.CLOSED)
        _change(alarm, changes, "closed_at", now)
        _change(alarm, changes, "closed_by_id", getattr(user, "pk", None))
        _change(alarm, changes, "shelved_until", None)
        _record_transition(alarm, AlarmEvent.Kind.CLOSED, at=now, changes=changes, actor=_actor(user),
                           comment=(comment or "").strip())
    return alarm


# --- containment -----------------------------------------------------------------------------------------------------


def mark_contained(alarm_id, *, at: datetime, hold_id=None) -> Alarm:
    """The suspect product was frozen (a hold placed). Set once: the first containment is the one the response time
    is measured to; later holds for the same alarm don't move it (returned unchanged, no event)."""
    with transaction.atomic():
        alarm = _locked(alarm_id)
        if alarm.contained_at is not None:
            return alarm
        changes: dict = {}
        _change(alarm, changes, "contained_at", at)
        if hold_id is not None:
            changes["hold"] = [None, hold_id]
        _record_transition(alarm, AlarmEvent.Kind.CONTAINED, at=at, changes=changes, actor=current_actor(),
                           comment=_("hold %(id)s") % {"id": hold_id} if hold_id is not None else "")
    return alarm


# --- shelving --------------------------------------------------------------------------------------------------------


def shelve_alarm(alarm_id, *, user, reason: str, until: datetime, now: datetime | None = None) -> Alarm:
    """Silence an open alarm until `until` (at most ALARM_SHELVE_MAX_HOURS ahead): still recorded and counted, not
    announced with sound, not escalated. Shelving a shelved alarm again moves its expiry."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise AlarmError("reason_required", _("State why the alarm is shelved."), field="reason")
    if until is None:
        raise AlarmError("until_required", _("State until when the alarm is shelved."), field="until")
    if until.tzinfo is None:
        raise AlarmError("invalid_input", _("The shelving expiry needs a time zone."), field="until")
    if until <= now:
        raise AlarmError("until_in_past", _("The shelving expiry must lie in the future."), field="until")
    if until - now > shelve_max():
        raise AlarmError("until_too_far", _("An alarm can be shelved for at most %(hours)s hours.")
                         % {"hours": f"{shelve_max().total_seconds() / 3600:g}"}, field="until")
    with transaction.atomic():
        alarm = _locked(alarm_id)
        _refuse_closed(alarm)
        changes: dict = {}
        _change(alarm, changes, "shelved_until", until)
        _change(alarm, changes, "shelved_reason", reason[:_SHELVE_REASON_MAX])
        _change(alarm, changes, "shelved_by_id", getattr(user, "pk", None))
        _record_transition(alarm, AlarmEvent.Kind.SHELVED, at=now, changes=changes, actor=_actor(user),
                           comment=reason)
    return alarm


def unshelve_alarm(alarm_id, *, user=None, now: datetime | None = None) -> Alarm:
    """End the shelving early (user), or because it expired (user None: the beat task, acting as the system)."""
    now = now or timezone.now()
    with transaction.atomic():
        alarm = _locked(alarm_id)
        if alarm.shelved_until is None:
            raise AlarmError("not_shelved", _("Alarm %(id)s is not shelved.") % {"id": alarm.pk})
        changes: dict = {}
        _change(alarm, changes, "shelved_until", None)
        _change(alarm, changes, "shelved_reason", "")
        _change(alarm, changes, "shelved_by_id", None)
        _record_transition(alarm, AlarmEvent.Kind.UNSHELVED, at=now, changes=changes, actor=_actor(user),
                           comment="" if user is not None else _("shelving expired"))
    return alarm


def unshelve_expired_alarms(now: datetime | None = None) -> int:
    """Beat task body: unshelve every alarm whose shelving has expired. Returns how many."""
    now = now or timezone.now()
    count = 0
    for alarm_id in Alarm.objects.filter(shelved_until__lte=now).values_list("pk", flat=True):
        try:
            unshelve_alarm(alarm_id, user=None, now=now)
        except AlarmError:  # unshelved by someone meanwhile
            continue
        count += 1
    return count


def is_shelved(alarm: Alarm, now: datetime | None = None) -> bool:
    return alarm.shelved_until is not None and alarm.shelved_until > (now or timezone.now())


# --- escalation ------------------------------------------------------------------------------------------------------


def due_escalation_level(raised_at: datetime, now: datetime, every_min: int, cap: int) -> int:
    """Level 1 is due `every_min` minutes after raising, each further level `every_min` minutes later, capped."""
    if every_min <= 0 or now < raised_at:
        return 0
    return min(int((now - raised_at) / timedelta(minutes=every_min)), cap)


def escalation_groups_for_level(groups: list, level: int) -> list:
    """Level k notifies the k-th escalation group (in the order they were added to the rule); levels beyond the
    number of groups remind the last group again."""
    if not groups or level < 1:
        return []
    return [groups[min(level, len(groups)) - 1]]


def _escalation_groups_in_order(rule) -> list:
    through = type(rule).escalation_groups.through
    return [link.group for link in through.objects.filter(reactionrule=rule).select_related("group").order_by("id")]


def awaiting_acknowledgement() -> Q:
    """Alarms someone still has to acknowledge: not acknowledged and not closed — a cleared alarm included (it
    cannot be closed before it is acknowledged, and the excursion it reports happened)."""
    return Q(acknowledged_at__isnull=True) & ~Q(state=Alarm.State.CLOSED)


def escalate_overdue_alarms(now: datetime | None = None) -> int:
    """Beat task body: escalate every unacknowledged (active or cleared), unshelved, overdue alarm whose rule says so.
    Returns the number of alarms escalated. Alarms locked by another transaction are left to the next run."""
    from qms.services.notifications import notify_groups

    now = now or timezone.now()
    cap = escalation_max_level()
    candidates = (Alarm.objects.filter(awaiting_acknowledgement(), rule__escalate_after_min__gt=0,
                                       escalation_level__lt=cap)
                  .values_list("pk", flat=True))
    escalated = 0
    for alarm_id in candidates:
        with transaction.atomic():
            alarm = (Alarm.objects.select_for_update(of=("self",), skip_locked=True, no_key=True)
                     .select_related(*_FIXED_RELATIONS, "rule")
                     .filter(awaiting_acknowledgement(), pk=alarm_id).first())
            if alarm is None or is_shelved(alarm, now):
                continue
            level = due_escalation_level(alarm.raised_at, now, alarm.rule.escalate_after_min, cap)
            if level <= alarm.escalation_level:
                continue
            groups = _escalation_groups_in_order(alarm.rule)
            notified = []
            for reached in range(alarm.escalation_level + 1, level + 1):
                for group in escalation_groups_for_level(groups, reached):
                    if group not in notified:
                        notified.append(group)
            changes: dict = {}
            _change(alarm, changes, "escalation_level", level)
            _change(alarm, changes, "escalated_at", now)
            changes["notified_groups"] = [None, [group.name for group in notified]]
            _record_transition(alarm, AlarmEvent.Kind.ESCALATED, at=now, changes=changes, actor=current_actor(),
                               comment=", ".join(group.name for group in notified))
            notify_groups(notified, site=alarm.site, kind="escalation",
                          title=_("Escalation level %(level)d: %(title)s") % {"level": level, "title": alarm.title},
                          body=_("Not acknowledged since %(raised)s.") % {"raised": alarm.raised_at.isoformat()},
                          link=f"/alarms/{alarm.pk}/")
            escalated += 1
    return escalated
