"""Actions (tasks) with an owner and a due date, on an NC or a CAPA (docs/capa.md, "Actions and reminders").

create_action / complete_action / cancel_action, and escalate_overdue_actions (beat): an open action past its due
date notifies its owner and the supervisors of its site, at most once per ESCALATION_INTERVAL per action.
An action flagged `mes_instruction` with equipment or an operation is an instruction for MES: readable at
GET /api/v1/instructions/ while open, and pushed on creation and on completion/cancellation through the write-back
seam to the site's connectors that have a push target (the verdict push configuration, `verdict_push_target`).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from qms.audit.chain import record_audit
from qms.audit.context import acting_as, actor_for_user
from qms.auth.roles import SUPERVISOR
from qms.auth.scoping import allowed_site_ids
from qms.capa_rules import STEPS
from qms.models import Action, Capa, CapaStep, Equipment, Nonconformance, Operation, RootCause, Site
from qms.services.capa_errors import CapaError
from qms.services.notifications import notify_groups, notify_users
from qms.services.record_version import version_number, version_problem

CREATE_PERMISSION = "qms.add_action"
COMPLETE_PERMISSION = "qms.change_action"
TITLE_MAX = Action._meta.get_field("title").max_length
NOTE_MAX = 2000
ESCALATION_INTERVAL = timedelta(days=1)
# The step an action belongs to must be open while actions are added to it (D3 containment, D5 corrective, …).
STEP_OF_KIND = {Action.Kind.CONTAINMENT: "D3", Action.Kind.CORRECTIVE: "D5", Action.Kind.PREVENTIVE: "D7"}


def create_action(site: Site, *, user, title: str, owner, due_date, kind: str = Action.Kind.CORRECTIVE, nc=None,
                  capa=None, capa_step: str = "", description: str = "", verification: str = "", root_cause=None,
                  equipment=None, operation=None, mes_instruction: bool = False) -> Action:
    """A task for `owner` due on `due_date`, on an NC and/or a CAPA of `site`. On a CAPA the action belongs to a
    step (default by kind: containment D3, corrective D5, preventive D7) which must be open; a corrective action may
    name the root cause it addresses. An MES instruction needs equipment or an operation."""
    if _person(user) is None or not user.has_perm(CREATE_PERMISSION):
        raise CapaError("not_permitted", _("Your role may not create actions (quality engineers may)."))
    if site.pk not in allowed_site_ids(user):
        raise CapaError("not_found", _("Site %(site)s does not exist.") % {"site": site.code})
    title = (title or "").strip()
    if not title:
        raise CapaError("required", _("Give the action a title."), field="title")
    if len(title) > TITLE_MAX:
        raise CapaError("invalid", _("The title may have at most %(max)d characters.") % {"max": TITLE_MAX},
                        field="title")
    if kind not in Action.Kind.values:
        raise CapaError("invalid", _("“%(kind)s” is not a kind of action.") % {"kind": kind}, field="kind")
    owner = _site_member(site, owner)
    due = _due_date(due_date)
    equipment = _of_site(site, Equipment, equipment, "equipment", {"site": site}, "code")
    operation = _of_site(site, Operation, operation, "operation", {"product__site": site}, "code")
    if mes_instruction and equipment is None and operation is None:
        raise CapaError("required", _("An instruction for MES needs the equipment or the operation it is for."),
                        field="equipment")
    nc = _of_site(site, Nonconformance, nc, "nc", {"site": site}, "number")
    with acting_as(actor_for_user(user), _("action created")), transaction.atomic():
        capa_row = None
        if capa is not None:
            capa_row = Capa.objects.select_for_update(of=("self",)).filter(
                pk=getattr(capa, "pk", capa), site=site).first()
            if capa_row is None:
                raise CapaError("invalid", _("That CAPA does not exist in this site."), field="capa")
            if capa_row.state != Capa.State.OPEN:
                raise CapaError("capa_not_open", _("%(number)s is not open.") % {"number": capa_row.number})
            capa_step = (capa_step or STEP_OF_KIND.get(kind, "")).upper()
            if capa_step and capa_step not in STEPS:
                raise CapaError("unknown_step", _("There is no 8D step %(step)s.") % {"step": capa_step},
                                field="capa_step")
            state = CapaStep.objects.filter(capa=capa_row, step=capa_step).values_list("state", flat=True).first()
            if capa_step and state != CapaStep.State.OPEN:
                raise CapaError("step_not_open", _("Step %(step)s is %(state)s; reopen it to add actions.") % {
                    "step": capa_step, "state": state}, field="capa_step")
        elif capa_step:
            raise CapaError("invalid", _("Only an action on a CAPA belongs to an 8D step."), field="capa_step")
        cause = None
        if root_cause not in (None, ""):
            cause = RootCause.objects.filter(pk=getattr(root_cause, "pk", root_cause), capa=capa_row).first() \
                if capa_row else None
            if cause is None or not cause.is_root_cause:
                raise CapaError("invalid", _("Choose a root cause of this CAPA."), field="root_cause")
        action = Action(site=site, title=title, description=(description or "").strip(), kind=kind, nc=nc,
                        capa=capa_row, capa_step=capa_step or "", owner=owner, due_date=due,
                        verification=(verification or "").strip(), root_cause=cause, equipment=equipment,
                        operation=operation, mes_instruction=bool(mes_instruction))
        action._change_reason = _("action created")
        action.save()
        if capa_row is not None:
            _bump(capa_row, _("action added"))
        if owner.pk != user.pk:
            notify_users([owner], site=site, kind="task_assigned",
                         title=_("New task for you: %(title)s") % {"title": title},
                         body=_("Due %(due)s.") % {"due": due.isoformat()}, link="/tasks/")
        push_instruction(action)
    return action


def complete_action(action_id: int, *, user, note: str, expected_version=None) -> Action:
    """open → done with a note (what was done, the evidence). The owner may complete it, and so may whoever may
    create actions (quality engineering)."""
    note = (note or "").strip()
    if not note:
        raise CapaError("required", _("Say what was done (the completion note)."), field="note")
    if len(note) > NOTE_MAX:
        raise CapaError("invalid", _("The note may have at most %(max)d characters.") % {"max": NOTE_MAX},
                        field="note")
    with acting_as(actor_for_user(user), note[:100]), transaction.atomic():
        capa = _locked_capa_of(action_id)
        action = _locked_action(action_id, user)
        if action.owner_id != getattr(user, "pk", None) and not user.has_perm(CREATE_PERMISSION):
            raise CapaError("not_permitted", _("Only the owner or a quality engineer may complete this action."))
        if not user.has_perm(COMPLETE_PERMISSION):
            raise CapaError("not_permitted", _("Your role may not complete actions."))
        _check_action_version(action, expected_version)
        _check_action_open(action)
        now = timezone.now()
        action.state, action.completed_at, action.completed_by, action.completion_note = \
            Action.State.DONE, now, user, note
        _save(action, note)
        record_audit(action="transition", model=Action._meta.label, object_pk=action.pk,
                     object_repr=action.title[:200], site_id=action.site_id,
                     changes={"state": [Action.State.OPEN, Action.State.DONE]}, reason=note)
        if capa is not None:
            _bump(capa, _("action done"))
        push_instruction(action)
    return action


def cancel_action(action_id: int, *, user, reason: str) -> Action:
    """open → cancelled with a reason (quality engineering)."""
    if _person(user) is None or not user.has_perm(CREATE_PERMISSION):
        raise CapaError("not_permitted", _("Your role may not cancel actions (quality engineers may)."))
    reason = (reason or "").strip()
    if not reason:
        raise CapaError("reason_required", _("Give the reason for cancelling."), field="reason")
    with acting_as(actor_for_user(user), reason[:100]), transaction.atomic():
        capa = _locked_capa_of(action_id)
        action = _locked_action(action_id, user)
        _check_action_open(action)
        cancel_locked(action, reason)
        if capa is not None:
            _bump(capa, _("action cancelled"))
    return action


def cancel_locked(action: Action, reason: str) -> None:
    """Cancel an open action whose row (and CAPA) the caller has locked."""
    action.state = Action.State.CANCELLED
    action.completion_note = reason[:NOTE_MAX]
    _save(action, reason)
    record_audit(action="transition", model=Action._meta.label, object_pk=action.pk,
                 object_repr=action.title[:200], site_id=action.site_id,
                 changes={"state": [Action.State.OPEN, Action.State.CANCELLED]}, reason=reason)
    push_instruction(action)


def escalate_overdue_actions(now: datetime | None = None) -> int:
    """Notify the owner and the site's supervisors of each open action past its due date (the site's local date),
    once per ESCALATION_INTERVAL per action. Returns how many actions were escalated."""
    now = now or timezone.now()
    supervisors = list(Group.objects.filter(name=SUPERVISOR))
    escalated = 0
    candidates = Action.objects.filter(state=Action.State.OPEN, due_date__lt=now.date() + timedelta(days=1)) \
        .values_list("pk", flat=True)
    for action_id in candidates:
        with transaction.atomic():
            action = Action.objects.select_for_update(of=("self",)).select_related("site", "owner") \
                .filter(pk=action_id, state=Action.State.OPEN).first()
            if action is None or action.due_date >= _local_date(action.site, now):
                continue
            if action.escalated_at is not None and now - action.escalated_at < ESCALATION_INTERVAL:
                continue
            days = (_local_date(action.site, now) - action.due_date).days
            title = _("Overdue task (%(days)d days): %(title)s") % {"days": days, "title": action.title}
            body = _("%(owner)s owns it; it was due %(due)s.") % {
                "owner": action.owner.get_username(), "due": action.due_date.isoformat()}
            notify_users([action.owner], site=action.site, kind="task_overdue", title=title, body=body,
                         link="/tasks/")
            notify_groups(supervisors, site=action.site, kind="task_overdue", title=title, body=body,
                          link=_record_link(action))
            action.escalated_at = now
            action._change_reason = "overdue escalation"
            action.save(update_fields=["escalated_at"])
            escalated += 1
    return escalated


def push_instruction(action: Action) -> list:
    """Queue a write-back of an MES instruction (created, done or cancelled) to the site's push connectors; the
    command commits with the caller's transaction and is sent after it (connectors.writeback)."""
    if not action.mes_instruction:
        return []
    from connectors.writeback import queue_writeback
    from traceability.verdicts.push import push_targets

    commands = []
    for connector in push_targets(action.site_id):
        commands.append(queue_writeback(
            connector, connector.verdict_push_target, instruction_value(action, connector),
            reason=f"instruction {action.pk} {action.state}: {action.title}"[:500],
            idempotency_key=f"instruction:{action.pk}:{action.state}", requested_by="instruction push"))
    return commands


def instruction_value(action: Action, connector):
    """The webhook gets the instruction as JSON; OPC UA / Modbus / MQTT targets a line of text."""
    where = action.equipment.code if action.equipment_id else ""
    operation = action.operation.code if action.operation_id else ""
    if connector.kind == "webhook":
        return instruction_payload(action)
    return f"instruction:{action.pk}:{where or operation}:{action.state}:{action.title}"


def instruction_payload(action: Action) -> dict:
    """The instruction as MES sees it (API and webhook push)."""
    return {
        "type": "instruction", "id": action.pk, "site": action.site.code, "state": action.state,
        "kind": action.kind, "title": action.title, "description": action.description,
        "equipment": action.equipment.code if action.equipment_id else None,
        "operation": action.operation.code if action.operation_id else None,
        "due_date": action.due_date.isoformat(),
        "nc": action.nc.number if action.nc_id else None, "capa": action.capa.number if action.capa_id else None,
        "created_at": action.created_at.isoformat() if action.created_at else None,
    }


# --- helpers -------------------------------------------------------------------------------------------------------


def _person(user):
    if user is None or getattr(user, "pk", None) is None or not getattr(user, "is_authenticated", False):
        return None
    return user


def _site_member(site: Site, owner):
    users = get_user_model().objects.filter(is_active=True)
    person = users.filter(pk=owner.pk).first() if isinstance(owner, get_user_model()) else (
        users.filter(pk=int(owner)).first() if isinstance(owner, int) or str(owner).isdigit()
        else users.filter(username=str(owner or "").strip()).first())
    if person is None or site.pk not in allowed_site_ids(person):
        raise CapaError("unknown_user", _("The owner must be an active member of this site."), field="owner")
    return person


def _due_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    parsed = parse_date(str(value or ""))
    if parsed is None:
        raise CapaError("invalid", _("Give the due date as YYYY-MM-DD."), field="due_date")
    return parsed


def _of_site(site, model, value, field, site_filter, lookup):
    if value in (None, ""):
        return None
    if isinstance(value, model):
        found = model.objects.filter(pk=value.pk, **site_filter).first()
    elif isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        found = model.objects.filter(pk=int(value), **site_filter).first()
    else:
        found = model.objects.filter(**{lookup: value}, **site_filter).first()
    if found is None:
        raise CapaError("invalid", _("%(value)s does not exist in this site.") % {"value": value}, field=field)
    return found


def _locked_capa_of(action_id) -> Capa | None:
    """Lock order is CAPA → action everywhere (cancel_capa locks the CAPA, then its actions)."""
    capa_id = Action.objects.filter(pk=action_id).values_list("capa_id", flat=True).first()
    return Capa.objects.select_for_update(of=("self",)).filter(pk=capa_id).first() if capa_id else None


def _locked_action(action_id, user) -> Action:
    action = Action.objects.select_for_update(of=("self",)).select_related("site").filter(pk=action_id).first()
    if action is None or action.site_id not in allowed_site_ids(user):
        raise CapaError("not_found", _("Action %(id)s does not exist.") % {"id": action_id})
    return action


def _check_action_open(action: Action) -> None:
    if action.state != Action.State.OPEN:
        raise CapaError("action_not_open", _("This action is %(state)s already.") % {
            "state": action.get_state_display()})


def _check_action_version(action: Action, expected_version) -> None:
    if expected_version in (None, ""):
        return
    expected = version_number(expected_version)
    if expected is None:
        raise CapaError("version_required", version_problem(expected_version), field="version")
    if expected != action.version:
        raise CapaError("stale", _("Someone else changed this action meanwhile — reload it."),
                        details={"current_version": action.version, "your_version": expected})


def _save(row, reason) -> None:
    row.version += 1
    row._change_reason = str(reason)[:100]
    row.save()


def _bump(capa: Capa, reason) -> None:
    """An action is part of its CAPA: bump the CAPA's version so open pages notice."""
    capa.version += 1
    capa._change_reason = str(reason)[:100]
    capa.save(update_fields=["version"])


def _local_date(site, now: datetime) -> date:
    import zoneinfo

    try:
        zone = zoneinfo.ZoneInfo(site.timezone) if getattr(site, "timezone", "") else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = None
    return timezone.localtime(now, zone).date() if zone else timezone.localtime(now).date()


def _record_link(action: Action) -> str:
    if action.capa_id:
        return f"/capas/{action.capa_id}/"
    return "/tasks/"
