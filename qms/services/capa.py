"""8D CAPA: open, edit the nine steps with an optimistic version check, submit, approve (e-signed, never one's own
submission), reopen (with a reason, later dependent steps fall back to open), root causes, the effectiveness check
against live data, close (e-signed) and cancel. docs/capa.md.

The step order, the transitions and the required content per step are the pure rules of `qms.capa_rules`; this
module turns rows into facts for them. Every change: one transaction, the CAPA row locked first (then its step and
cause rows), the version bumped, an audit entry with the reason; side effects (notifications, MES push) committed
with it. Actions (tasks) live in `qms.services.actions` and are re-exported here.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from qms import capa_rules
from qms.audit.chain import record_audit
from qms.audit.context import acting_as, actor_for_user
from qms.auth.scoping import allowed_site_ids
from qms.capa_rules import ActionFacts, CauseFacts, StepFacts, TransitionRefused
from qms.models import Action, Capa, CapaStep, Characteristic, Line, Nonconformance, Product, RootCause, Site
from qms.services.actions import (
    cancel_action,
    cancel_locked,
    complete_action,
    create_action,
    escalate_overdue_actions,
)
from qms.services.approval_notices import notify_step_waiting
from qms.services.capa_effectiveness import effectiveness_figures
from qms.services.capa_errors import CapaError, incomplete, refused
from qms.services.esignature import SignatureError, records_failed_signatures, sign
from qms.services.record_version import version_number, version_problem

__all__ = [
    "CapaError", "add_root_cause", "approve_step", "cancel_action", "cancel_capa", "check_effectiveness",
    "close_capa", "complete_action", "create_action", "delete_root_cause", "escalate_overdue_actions", "open_capa",
    "reopen_step", "save_step", "step_problems", "submit_step", "update_capa", "update_root_cause",
]

RUN_PERMISSION = "qms.change_capa"
STEP_PERMISSION = "qms.change_capastep"
APPROVE_PERMISSION = "qms.approve_capastep"
TITLE_MAX = Capa._meta.get_field("title").max_length
REASON_MAX = 500
TEXT_MAX = 5000
NUMBER_ATTEMPTS = 5
Step = CapaStep.Step
StepState = CapaStep.State

# What each step's form holds (content keys); lists of dicts for the repeatable parts.
TEXT_FIELDS = {
    "D0": ("symptom", "emergency_response"),
    "D1": ("champion", "notes"),
    "D2": capa_rules.FIVE_W_TWO_H,
    "D3": ("notes",),
    "D4": ("notes",),
    "D5": ("notes",),
    "D6": ("notes",),
    "D7": ("notes",),
    "D8": ("recognition", "notes"),
}
LIST_FIELDS = {"D1": {"members": ("user", "role")}, "D7": {"items": ("kind", "reference", "description")}}


# --- open and edit the record --------------------------------------------------------------------------------------


def open_capa(site: Site, *, title: str, user, nonconformances: Iterable = (), champion=None) -> Capa:
    """A new CAPA numbered CAPA-<site>-<000001> with its nine steps (all open). Linked NCs must be of the site and
    not cancelled; product and line (the defect-rate scope) come from the first NC that names them."""
    _check_permission(user, RUN_PERMISSION, _("Your role may not open CAPAs (quality engineers may)."))
    if site.pk not in allowed_site_ids(user):
        raise CapaError("not_found", _("Site %(site)s does not exist.") % {"site": site.code})
    title = _check_title(title)
    ncs = _resolve_ncs(site, nonconformances)
    champion = _site_person(site, champion, "champion") if champion else None
    with acting_as(actor_for_user(user), _("CAPA opened")), transaction.atomic():
        capa = _create_numbered(
            site, title=title, created_by=user, champion=champion,
            product_id=next((nc.product_id for nc in ncs if nc.product_id), None),
            line_id=next((nc.line_id for nc in ncs if nc.line_id), None))
        d0 = {"symptom": "\n".join(filter(None, (ncs[0].title, ncs[0].description))) if ncs else ""}
        d1 = {"champion": champion.get_username(), "members": [{"user": champion.get_username(),
                                                                 "role": _("champion")}]} if champion else {}
        CapaStep.objects.bulk_create([
            CapaStep(capa=capa, step=step, content={"D0": d0, "D1": d1}.get(step, {})) for step in Step.values])
        capa.nonconformances.set(ncs)
        if champion:
            capa.team.set([champion])
        record_audit(action="create", model=Capa._meta.label, object_pk=capa.pk, object_repr=capa.number,
                     site_id=site.pk, changes={"nonconformances": [None, [nc.number for nc in ncs]],
                                               "steps": [None, list(Step.values)]},
                     reason=_("CAPA opened"))
    return capa


UPDATABLE = ("title", "product", "line", "characteristics", "baseline_start", "baseline_end", "effective_from",
             "nonconformances")
# What the effectiveness verdict was computed from: changing any of them voids the verdict (docs/capa.md).
EFFECTIVENESS_PLAN = ("product", "line", "characteristics", "baseline_start", "baseline_end", "effective_from")


def update_capa(capa_id: int, *, user, changes: dict, expected_version) -> Capa:
    """Change the record itself: title, defect-rate scope (product, line), the characteristics to improve and the
    before/after periods, linked NCs. Periods: baseline_start < baseline_end ≤ effective_from."""
    unknown = sorted(set(changes) - set(UPDATABLE))
    if unknown:
        raise CapaError("not_editable", _("These fields cannot be changed: %(fields)s.") % {
            "fields": ", ".join(unknown)}, field=unknown[0])
    _check_permission(user, RUN_PERMISSION, _("Your role may not change CAPAs (quality engineers may)."))
    with acting_as(actor_for_user(user), _("CAPA changed")), transaction.atomic():
        capa = _locked_capa(capa_id, user)
        _check_version(capa, expected_version, capa)
        _check_open(capa)
        site = capa.site
        before, after = {}, {}
        if "title" in changes:
            _set(capa, "title", _check_title(changes["title"]), before, after)
        for name, model, lookup in (("product", Product, "part_number"), ("line", Line, "code")):
            if name in changes:
                value = _site_object(site, model, changes[name], name, lookup)
                _set(capa, f"{name}_id", value.pk if value else None, before, after)
        for name in ("baseline_start", "baseline_end", "effective_from"):
            if name in changes:
                _set(capa, name, _datetime(changes[name], name), before, after)
        _check_periods(capa)
        if "characteristics" in changes:
            chars = [_site_object(site, Characteristic, c, "characteristics", "code")
                     for c in changes["characteristics"] or ()]
            old = sorted(capa.characteristics.values_list("code", flat=True))
            capa.characteristics.set([c for c in chars if c])
            before["characteristics"], after["characteristics"] = old, sorted(c.code for c in chars if c)
        if "nonconformances" in changes:
            ncs = _resolve_ncs(site, changes["nonconformances"] or ())
            old = sorted(capa.nonconformances.values_list("number", flat=True))
            capa.nonconformances.set(ncs)
            before["nonconformances"], after["nonconformances"] = old, sorted(nc.number for nc in ncs)
        if any(before.get(name) != after.get(name) for name in EFFECTIVENESS_PLAN if name in after):
            _void_effectiveness(capa, before, after)
        _save(capa, _("CAPA changed"))
        record_audit(action="update", model=Capa._meta.label, object_pk=capa.pk, object_repr=capa.number,
                     site_id=site.pk, changes={k: [before.get(k), after.get(k)] for k in after},
                     reason=_("CAPA changed"))
    return capa


# --- steps ---------------------------------------------------------------------------------------------------------


def save_step(capa_id: int, step: str, *, user, content: dict, expected_version) -> CapaStep:
    """Replace an open step's content if the step is still at `expected_version`; otherwise CapaError("stale")
    naming who changed it when. D1 also sets the CAPA's team and champion from the members named."""
    _check_permission(user, STEP_PERMISSION, _("Your role may not edit 8D steps (quality engineers may)."))
    step = _check_step_name(step)
    cleaned = _clean_content(step, content)
    with acting_as(actor_for_user(user), _("step %(step)s saved") % {"step": step}), transaction.atomic():
        capa = _locked_capa(capa_id, user)
        row = _locked_step(capa, step)
        _check_version(row, expected_version, capa)
        _check_open(capa)
        _guard(capa_rules.check_edit, step, _states(capa))
        if step == Step.D1:
            _apply_team(capa, cleaned)
        old = row.content
        row.content, row.last_saved_by = cleaned, user
        _save(row, _("step %(step)s saved") % {"step": step})
        record_audit(action="update", model=CapaStep._meta.label, object_pk=row.pk,
                     object_repr=f"{capa.number} {step}", site_id=capa.site_id,
                     changes={"content": [old, cleaned]}, reason=_("step %(step)s saved") % {"step": step})
    return row


def submit_step(capa_id: int, step: str, *, user) -> CapaStep:
    """open → submitted, when the earlier steps are approved (D3 needs only D0 and D1) and the content is complete."""
    _check_permission(user, STEP_PERMISSION, _("Your role may not submit 8D steps (quality engineers may)."))
    step = _check_step_name(step)
    reason = _("step %(step)s submitted for approval") % {"step": step}
    with acting_as(actor_for_user(user), reason), transaction.atomic():
        capa = _locked_capa(capa_id, user)
        row = _locked_step(capa, step)
        _check_open(capa)
        _guard(capa_rules.check_submit, step, _states(capa))
        _check_complete(capa, row)
        row.state, row.submitted_by, row.submitted_at = StepState.SUBMITTED, user, timezone.now()
        _save(row, reason)
        notify_step_waiting(capa, row)
        _audit_step(capa, row, "submit", {"state": [StepState.OPEN, StepState.SUBMITTED]}, reason)
    return row


@records_failed_signatures
def approve_step(capa_id: int, step: str, *, user, password: str, meaning: str, expected_version=None) -> CapaStep:
    """submitted → approved, e-signed. Separation of duties: whoever submitted the step or last saved its content
    may not approve it. `expected_version`: the step version the approver saw (another → CapaError("stale"))."""
    _check_permission(user, APPROVE_PERMISSION, _("Your role may not approve 8D steps."))
    step = _check_step_name(step)
    with acting_as(actor_for_user(user), _("step %(step)s approved") % {"step": step}), transaction.atomic():
        capa = _locked_capa(capa_id, user)
        row = _locked_step(capa, step)
        if expected_version is not None:
            _check_version(row, expected_version, capa)
        _check_open(capa)
        _guard(capa_rules.check_approve, step, _states(capa))
        if row.submitted_by_id == user.pk:
            raise CapaError("self_approval", _("You submitted step %(step)s; someone else must approve it.")
                            % {"step": step})
        if row.last_saved_by_id == user.pk:
            raise CapaError("self_approval", _("You wrote the content of step %(step)s; someone else must approve "
                                               "it.") % {"step": step})
        _check_complete(capa, row)
        signature = _sign(user, password, meaning, row, capa,
                          {"capa": capa.number, "step": step, "content": row.content, "version": row.version,
                           "facts": _facts_snapshot(capa)})
        row.state, row.approved_signature, row.approved_at = StepState.APPROVED, signature, signature.signed_at
        _save(row, signature.meaning)
        _audit_step(capa, row, "approve", {"state": [StepState.SUBMITTED, StepState.APPROVED],
                                                     "signature": [None, signature.pk]}, signature.meaning)
    return row


def reopen_step(capa_id: int, step: str, *, user, reason: str) -> CapaStep:
    """submitted/approved → open with a reason. Later steps that depend on it (submitted or approved) fall back to
    open with it (the reason says why); their content is kept."""
    _check_permission(user, STEP_PERMISSION, _("Your role may not reopen 8D steps (quality engineers may)."))
    step = _check_step_name(step)
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX:
        raise CapaError("invalid", _("The reason may have at most %(max)d characters.") % {"max": REASON_MAX},
                        field="reason")
    with acting_as(actor_for_user(user), reason), transaction.atomic():
        capa = _locked_capa(capa_id, user)
        rows = {row.step: row for row in CapaStep.objects.select_for_update().filter(capa=capa).order_by("step")}
        _check_open(capa)
        states = {name: row.state for name, row in rows.items()}
        _guard(capa_rules.check_reopen, step, states, reason)
        falling = capa_rules.steps_reopened_with(step, states)
        for name in (step, *falling):
            row = rows[name]
            before = row.state
            row.state, row.approved_signature, row.approved_at = StepState.OPEN, None, None
            row.submitted_by, row.submitted_at = None, None
            row.reopen_reason = reason if name == step else (
                _("%(step)s reopened: %(reason)s") % {"step": step, "reason": reason})[:REASON_MAX]
            _save(row, row.reopen_reason)
            _audit_step(capa, row, "reopen", {"state": [before, StepState.OPEN]}, row.reopen_reason)
    return rows[step]


def step_problems(capa: Capa, step: str) -> list:
    """What step `step` still lacks (pure-rule Problems), for the workspace page."""
    return capa_rules.step_problems(step, _facts(capa, CapaStep.objects.get(capa=capa, step=step)))


# --- root causes ---------------------------------------------------------------------------------------------------


def add_root_cause(capa_id: int, *, user, category: str, cause: str, whys: Iterable = (), is_root_cause=False,
                   verified=False) -> RootCause:
    """A cause on the fishbone (5M1E) with its why chain; only while D4 is open."""
    _check_permission(user, "qms.add_rootcause", _("Your role may not record causes (quality engineers may)."))
    with acting_as(actor_for_user(user), _("cause added")), transaction.atomic():
        capa = _locked_capa(capa_id, user)
        _check_d4_open(capa)
        root = RootCause(capa=capa)
        _fill_cause(root, {"category": category, "cause": cause, "whys": list(whys or ()),
                           "is_root_cause": bool(is_root_cause), "verified": bool(verified)})
        root._change_reason = _("cause added")
        root.save()
        _touch(capa, _("cause added"))
    return root


def update_root_cause(root_cause_id: int, *, user, changes: dict) -> RootCause:
    """Change category, cause, whys, is_root_cause or verified of a cause; only while D4 is open."""
    unknown = sorted(set(changes) - {"category", "cause", "whys", "is_root_cause", "verified"})
    if unknown:
        raise CapaError("not_editable", _("These fields cannot be changed: %(fields)s.") % {
            "fields": ", ".join(unknown)}, field=unknown[0])
    _check_permission(user, "qms.change_rootcause", _("Your role may not change causes (quality engineers may)."))
    capa_id = RootCause.objects.filter(pk=root_cause_id).values_list("capa_id", flat=True).first()
    if capa_id is None:
        raise CapaError("not_found", _("Cause %(id)s does not exist.") % {"id": root_cause_id})
    with acting_as(actor_for_user(user), _("cause changed")), transaction.atomic():
        capa = _locked_capa(capa_id, user)
        _check_d4_open(capa)
        root = RootCause.objects.select_for_update().get(pk=root_cause_id)
        current = {"category": root.category, "cause": root.cause, "whys": root.whys,
                   "is_root_cause": root.is_root_cause, "verified": root.verified}
        _fill_cause(root, {**current, **changes})
        root._change_reason = _("cause changed")
        root.save()
        _touch(capa, _("cause changed"))
    return root


def delete_root_cause(root_cause_id: int, *, user) -> None:
    """Remove a cause that no corrective action addresses; only while D4 is open."""
    _check_permission(user, "qms.change_rootcause", _("Your role may not change causes (quality engineers may)."))
    capa_id = RootCause.objects.filter(pk=root_cause_id).values_list("capa_id", flat=True).first()
    if capa_id is None:
        raise CapaError("not_found", _("Cause %(id)s does not exist.") % {"id": root_cause_id})
    with acting_as(actor_for_user(user), _("cause removed")), transaction.atomic():
        capa = _locked_capa(capa_id, user)
        _check_d4_open(capa)
        root = RootCause.objects.select_for_update().get(pk=root_cause_id)
        if root.actions.exclude(state=Action.State.CANCELLED).exists():
            raise CapaError("cause_in_use", _("A corrective action addresses this cause; cancel it first."))
        root._change_reason = _("cause removed")
        root.delete()
        _touch(capa, _("cause removed"))


# --- effectiveness, closing, cancelling ----------------------------------------------------------------------------


def check_effectiveness(capa_id: int, *, now: datetime | None = None, user=None) -> Capa:
    """Compute Cpk and the defect rate before/after from live data, store them with the verdict."""
    now = now or timezone.now()
    if user is not None:
        _check_permission(user, RUN_PERMISSION, _("Your role may not check CAPA effectiveness."))
    with acting_as(actor_for_user(user), _("effectiveness checked")), transaction.atomic():
        capa = _locked_capa(capa_id, user)
        _check_open(capa)
        if capa.effective_from is None:
            raise CapaError("effective_from_required",
                            _("Set when the permanent fix took effect before checking its effectiveness."),
                            field="effective_from")
        figures = effectiveness_figures(capa, now)
        before = capa.effectiveness
        capa.effectiveness, capa.effectiveness_checked_at, capa.effectiveness_data = figures["verdict"], now, figures
        _save(capa, _("effectiveness checked"))
        record_audit(action="update", model=Capa._meta.label, object_pk=capa.pk, object_repr=capa.number,
                     site_id=capa.site_id, changes={"effectiveness": [before, capa.effectiveness]},
                     reason=_("effectiveness checked"))
    return capa


@records_failed_signatures
def close_capa(capa_id: int, *, user, password: str, meaning: str, expected_version=None) -> Capa:
    """open → closed, e-signed; only when D0–D8 are approved and the effectiveness verdict is "effective".
    `expected_version`: the CAPA version the signer saw (another → CapaError("stale"))."""
    _check_permission(user, APPROVE_PERMISSION, _("Your role may not close CAPAs."))
    with acting_as(actor_for_user(user), _("CAPA closed")), transaction.atomic():
        capa = _locked_capa(capa_id, user)
        if expected_version is not None:
            _check_version(capa, expected_version, capa)
        _check_open(capa)
        waiting = [s for s, state in _states(capa).items() if state != StepState.APPROVED]
        if waiting:
            raise CapaError("steps_not_approved", _("Steps %(steps)s are not approved yet.") % {
                "steps": ", ".join(waiting)}, details={"waiting": waiting})
        if capa.effectiveness != Capa.Effectiveness.EFFECTIVE:
            raise CapaError("not_effective", _("The effectiveness check says “%(verdict)s”; a CAPA closes only when "
                                               "it is effective.") % {"verdict": capa.get_effectiveness_display()},
                            field="effectiveness")
        signature = _sign(user, password, meaning, capa, capa,
                          {"capa": capa.number, "effectiveness": capa.effectiveness_data, "version": capa.version})
        capa.state, capa.closed_at, capa.closed_signature = Capa.State.CLOSED, signature.signed_at, signature
        _save(capa, signature.meaning)
        record_audit(action="transition", model=Capa._meta.label, object_pk=capa.pk, object_repr=capa.number,
                     site_id=capa.site_id, changes={"state": [Capa.State.OPEN, Capa.State.CLOSED],
                                                    "signature": [None, signature.pk]}, reason=signature.meaning)
    return capa


def cancel_capa(capa_id: int, *, user, reason: str) -> Capa:
    """open → cancelled with a reason; the CAPA's open actions are cancelled with it."""
    _check_permission(user, RUN_PERMISSION, _("Your role may not cancel CAPAs (quality engineers may)."))
    reason = (reason or "").strip()
    if not reason:
        raise CapaError("reason_required", _("Give the reason for cancelling."), field="reason")
    if len(reason) > REASON_MAX:
        raise CapaError("invalid", _("The reason may have at most %(max)d characters.") % {"max": REASON_MAX},
                        field="reason")
    with acting_as(actor_for_user(user), reason), transaction.atomic():
        capa = _locked_capa(capa_id, user)
        _check_open(capa)
        capa.state, capa.cancel_reason = Capa.State.CANCELLED, reason
        _save(capa, reason)
        record_audit(action="transition", model=Capa._meta.label, object_pk=capa.pk, object_repr=capa.number,
                     site_id=capa.site_id, changes={"state": [Capa.State.OPEN, Capa.State.CANCELLED]}, reason=reason)
        note = _("CAPA %(number)s cancelled: %(reason)s") % {"number": capa.number, "reason": reason}
        for action in capa.actions.select_for_update().filter(state=Action.State.OPEN).order_by("pk"):
            cancel_locked(action, note)
    return capa


# --- helpers -------------------------------------------------------------------------------------------------------


def _void_effectiveness(capa: Capa, before: dict, after: dict) -> None:
    """The plan the verdict was judged on changed: the verdict no longer applies. Back to "not checked", and a
    D8 already submitted or approved (it requires "effective") falls back to open with the reason."""
    reason = _("effectiveness plan changed: check again")
    if capa.effectiveness != Capa.Effectiveness.UNKNOWN or capa.effectiveness_data:
        before["effectiveness"], after["effectiveness"] = capa.effectiveness, Capa.Effectiveness.UNKNOWN
        capa.effectiveness, capa.effectiveness_checked_at, capa.effectiveness_data = \
            Capa.Effectiveness.UNKNOWN, None, {}
    d8 = CapaStep.objects.select_for_update().get(capa=capa, step=Step.D8)
    if d8.state != StepState.OPEN:
        state = d8.state
        d8.state, d8.approved_signature, d8.approved_at = StepState.OPEN, None, None
        d8.submitted_by, d8.submitted_at, d8.reopen_reason = None, None, reason
        _save(d8, reason)
        _audit_step(capa, d8, "reopen", {"state": [state, StepState.OPEN]}, reason)


def _person(user):
    if user is None or getattr(user, "pk", None) is None or not getattr(user, "is_authenticated", False):
        return None
    return user


def _check_permission(user, perm: str, message: str) -> None:
    if _person(user) is None or not user.has_perm(perm):
        raise CapaError("not_permitted", message)


def _check_title(title) -> str:
    title = (title or "").strip()
    if not title:
        raise CapaError("required", _("Give the CAPA a title."), field="title")
    if len(title) > TITLE_MAX:
        raise CapaError("invalid", _("The title may have at most %(max)d characters.") % {"max": TITLE_MAX},
                        field="title")
    return title


def _check_step_name(step) -> str:
    step = str(step or "").upper()
    if step not in Step.values:
        raise CapaError("unknown_step", _("There is no 8D step %(step)s.") % {"step": step}, field="step")
    return step


def _locked_capa(capa_id, user) -> Capa:
    capa = Capa.objects.select_for_update(of=("self",)).select_related("site").filter(pk=capa_id).first()
    if capa is None or (_person(user) is not None and capa.site_id not in allowed_site_ids(user)):
        raise CapaError("not_found", _("CAPA %(id)s does not exist.") % {"id": capa_id})
    return capa


def _locked_step(capa: Capa, step: str) -> CapaStep:
    return CapaStep.objects.select_for_update().get(capa=capa, step=step)


def _check_open(capa: Capa) -> None:
    if capa.state != Capa.State.OPEN:
        raise CapaError("capa_not_open", _("%(number)s is %(state)s; it cannot change any more.") % {
            "number": capa.number, "state": capa.get_state_display()})


def _check_d4_open(capa: Capa) -> None:
    _check_open(capa)
    _guard(capa_rules.check_edit, Step.D4, _states(capa))


def _states(capa: Capa) -> dict[str, str]:
    return dict(CapaStep.objects.filter(capa=capa).values_list("step", "state"))


def _guard(check, step, *args) -> None:
    try:
        check(step, *args)
    except TransitionRefused as exc:
        raise refused(exc) from None


def _check_version(row, expected_version, capa: Capa) -> None:
    expected = version_number(expected_version)
    if expected is None:
        raise CapaError("version_required", version_problem(expected_version), field="version")
    if expected == row.version:
        return
    last = row.history.order_by("-history_date", "-history_id").first()
    who = (last.history_actor or (last.history_user.get_username() if last.history_user_id else "")) if last else ""
    who = who or _("someone")
    when = timezone.localtime(last.history_date).strftime("%Y-%m-%d %H:%M:%S") if last else "?"
    raise CapaError("stale", _("Someone else (%(who)s) changed %(what)s at %(when)s — reload it and apply your "
                               "change again.") % {"who": who, "when": when, "what": str(capa.number)},
                    details={"current_version": row.version, "your_version": expected, "changed_by": who,
                             "changed_at": last.history_date.isoformat() if last else None})


def _save(row, reason: str) -> None:
    row.version += 1
    row._change_reason = str(reason)[:100]
    row.save()


def _touch(capa: Capa, reason: str) -> None:
    """Causes and actions are part of the CAPA: bump its version so an open page sees the change."""
    _save(capa, reason)


def _audit_step(capa, row, event: str, changes, reason) -> None:
    """A step transition in the chain: action "transition", the event (submit/approve/reopen) among the changes."""
    record_audit(action="transition", model=CapaStep._meta.label, object_pk=row.pk,
                 object_repr=f"{capa.number} {row.step}", site_id=capa.site_id,
                 changes={"event": [None, event], **changes}, reason=str(reason))


def _sign(user, password, meaning, record, capa, content):
    try:
        return sign(user, password, meaning=meaning, record=record, content=content, site_id=capa.site_id)
    except SignatureError as exc:
        raise CapaError(exc.code, exc.message, field="meaning" if exc.code == "signature_meaning" else "password") \
            from None


def _create_numbered(site: Site, **fields) -> Capa:
    """CAPA-<site>-<000001>: an advisory lock per site serialises numbering on PostgreSQL; the unique index is the
    safety net (retry under a savepoint)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('qms.capa.number'), %s)", [site.pk])
    prefix = f"CAPA-{site.code}-"
    for attempt in range(NUMBER_ATTEMPTS):
        numbers = Capa.objects.filter(site=site, number__startswith=prefix).values_list("number", flat=True)
        last = max((int(n[len(prefix):]) for n in numbers if n[len(prefix):].isdigit()), default=0)
        capa = Capa(site=site, number=f"{prefix}{last + 1:06d}", **fields)
        capa._change_reason = _("CAPA opened")
        try:
            with transaction.atomic():
                capa.save()
            return capa
        except IntegrityError:
            if attempt == NUMBER_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _resolve_ncs(site: Site, items) -> list[Nonconformance]:
    ncs = []
    for item in items:
        if isinstance(item, Nonconformance):
            nc = item if item.site_id == site.pk else None
        else:
            lookup = {"number": item} if isinstance(item, str) and not item.isdigit() else {"pk": int(item)}
            nc = Nonconformance.objects.filter(site=site, **lookup).first()
        if nc is None:
            raise CapaError("invalid", _("Nonconformance %(nc)s does not exist in this site.") % {"nc": item},
                            field="nonconformances")
        if nc.state == Nonconformance.State.CANCELLED:
            raise CapaError("invalid", _("%(nc)s is cancelled.") % {"nc": nc.number}, field="nonconformances")
        ncs.append(nc)
    return list({nc.pk: nc for nc in ncs}.values())


def _site_person(site: Site, user_or_name, field: str):
    users = get_user_model().objects.filter(is_active=True)
    if isinstance(user_or_name, get_user_model()):
        person = users.filter(pk=user_or_name.pk).first()
    else:
        person = users.filter(username=str(user_or_name).strip()).first()
    if person is None or site.pk not in allowed_site_ids(person):
        raise CapaError("unknown_user", _("%(name)s is not an active member of this site.") % {
            "name": user_or_name}, field=field)
    return person


def _site_object(site: Site, model, value, field: str, lookup: str):
    if value in (None, ""):
        return None
    if isinstance(value, model):
        found = value
    elif isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        found = model.objects.filter(pk=int(value)).first()
    else:
        found = model.objects.filter(**{lookup: value}).filter(**_site_filter(model, site)).first()
    if found is None or _site_of(found) != site.pk:
        raise CapaError("invalid", _("%(value)s is not a %(what)s of this site.") % {
            "value": value, "what": model._meta.verbose_name}, field=field)
    return found


def _site_filter(model, site):
    return {"area__site": site} if model is Line else {"site": site}


def _site_of(obj) -> int:
    return obj.area.site_id if isinstance(obj, Line) else obj.site_id


def _datetime(value, field: str):
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        parsed = parse_datetime(str(value))
        if parsed is None:
            raise CapaError("invalid", _("%(value)s is not a date and time.") % {"value": value}, field=field)
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def _check_periods(capa: Capa) -> None:
    start, end, effective = capa.baseline_start, capa.baseline_end, capa.effective_from
    if start and end and start >= end:
        raise CapaError("invalid", _("The “before” period must end after it starts."), field="baseline_end")
    if end and effective and effective < end:
        raise CapaError("invalid", _("The fix cannot take effect before the “before” period ends."),
                        field="effective_from")


def _set(obj, attr, value, before, after) -> None:
    name = attr.removesuffix("_id")
    if getattr(obj, attr) != value:
        before[name], after[name] = getattr(obj, attr), value
        setattr(obj, attr, value)


def _clean_content(step: str, content) -> dict:
    if not isinstance(content, dict):
        raise CapaError("invalid", _("The step content must be an object."), field="content")
    texts, lists = TEXT_FIELDS[step], LIST_FIELDS.get(step, {})
    unknown = sorted(set(content) - set(texts) - set(lists))
    if unknown:
        raise CapaError("unknown_fields", _("Step %(step)s has no fields %(fields)s.") % {
            "step": step, "fields": ", ".join(unknown)}, field=unknown[0])
    cleaned = {name: _clean_text(content[name], name) for name in texts if name in content}
    for name, keys in lists.items():
        if name not in content:
            continue
        items = content[name]
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise CapaError("invalid", _("%(field)s must be a list of objects.") % {"field": name}, field=name)
        rows = [{key: _clean_text(item.get(key, ""), name) for key in keys} for item in items]
        cleaned[name] = [row for row in rows if any(row.values())]
    return cleaned


def _clean_text(value, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str | int | float):
        raise CapaError("invalid", _("%(field)s must be text.") % {"field": field}, field=field)
    value = str(value).strip()
    if len(value) > TEXT_MAX:
        raise CapaError("invalid", _("%(field)s may have at most %(max)d characters.") % {
            "field": field, "max": TEXT_MAX}, field=field)
    return value


def _apply_team(capa: Capa, content: dict) -> None:
    members = [_site_person(capa.site, m["user"], "members") for m in content.get("members", ()) if m.get("user")]
    champion = _site_person(capa.site, content["champion"], "champion") if content.get("champion") else None
    capa.team.set(members)
    if champion != capa.champion:
        capa.champion = champion
        _save(capa, _("team changed"))


def _fill_cause(root: RootCause, values: dict) -> None:
    whys = values.get("whys")
    if not isinstance(whys, list | tuple):
        raise CapaError("invalid", _("The why chain must be a list."), field="whys")
    whys = [str(why).strip() for why in whys]
    while whys and not whys[-1]:
        whys.pop()  # trailing empty inputs of the form are not blanks in the chain
    if len(whys) > capa_rules.MAX_WHYS:
        raise CapaError("why_chain_length", _("A why chain may have at most %(max)d whys.") % {
            "max": capa_rules.MAX_WHYS}, field="whys")
    facts = CauseFacts(id=root.pk or 0, category=str(values.get("category") or ""),
                       cause=str(values.get("cause") or ""), whys=tuple(whys),
                       is_root_cause=bool(values.get("is_root_cause")), verified=bool(values.get("verified")))
    # The minimum length of the chain is checked when D4 is submitted: a cause may be noted before its whys.
    problems = [p for p in capa_rules.content.why_chain_problems(facts) if p.code != "why_chain_length"]
    if len(facts.cause) > RootCause._meta.get_field("cause").max_length:
        raise CapaError("invalid", _("The cause may have at most 500 characters."), field="cause")
    if problems:
        from qms.services.capa_errors import problem_message

        raise CapaError(problems[0].code, problem_message(problems[0]), field=problems[0].field)
    root.category, root.cause, root.whys = facts.category, facts.cause.strip(), whys
    root.is_root_cause, root.verified = facts.is_root_cause, facts.verified


def _facts(capa: Capa, row: CapaStep) -> StepFacts:
    causes = tuple(CauseFacts(id=c.pk, category=c.category, cause=c.cause, whys=tuple(c.whys or ()),
                              is_root_cause=c.is_root_cause, verified=c.verified)
                   for c in capa.root_causes.order_by("pk"))
    actions = tuple(ActionFacts(id=a.pk, title=a.title, kind=a.kind, state=a.state,
                                owner=a.owner.get_username() if a.owner_id else None, due_date=a.due_date,
                                completed_at=a.completed_at, verification=a.verification,
                                root_cause_id=a.root_cause_id)
                    for a in capa.actions.select_related("owner").order_by("pk"))
    return StepFacts(content=row.content or {}, causes=causes, actions=actions, effectiveness=capa.effectiveness)


def _check_complete(capa: Capa, row: CapaStep) -> None:
    problems = capa_rules.step_problems(row.step, _facts(capa, row))
    if problems:
        raise incomplete(row.step, problems)


def _facts_snapshot(capa: Capa) -> dict:
    return {"root_causes": list(capa.root_causes.order_by("pk").values("id", "category", "cause", "whys",
                                                                        "is_root_cause", "verified")),
            "actions": list(capa.actions.order_by("pk").values("id", "title", "kind", "state", "owner_id",
                                                                "due_date", "completed_at"))}
