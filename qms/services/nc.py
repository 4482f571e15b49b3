"""Nonconformances: creation (by hand or as a draft from an alarm), edits with an optimistic version check, the
state machine, and the dispositions decided — e-signed — by the material review board (MRB).

States: draft → open → disposition → dispositioned → closed; draft/open/disposition → cancelled (with a reason, and
only while no disposition has been approved: an approved one has acted on the lots' holds). An NC without lots
(e.g. an audit finding) may be closed straight from open. Closing is e-signed.

Dispositions (state "disposition" only): proposed per NC lot and quantity; approved by
`settings.NC_MRB_APPROVALS[severity]` e-signed votes (default critical/major 2, minor 1). Separation of duties: the
proposer and the NC's creator never vote on it; a person votes once; one reject vote rejects it. When the approved
quantities of an NC lot add up to its nonconforming quantity the lot's active holds are decided on the disposition's
authority with the final approver's vote signature (see `hold_decision_for` and
`traceability.services.holds.decide_lots_by_disposition`); when every lot adds up the NC is dispositioned.

Locks, in this order: NC row → disposition row → hold rows (taken before the first audited change, so the audit head
is always the last lock) → HoldLot rows (in the hold service).
"""
from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Sum
from django.db.models.functions import Length
from django.utils import timezone
from django.utils.translation import gettext as _

from qms.audit.chain import record_audit
from qms.auth.scoping import allowed_site_ids
from qms.models import (
    Alarm,
    Characteristic,
    DefectCode,
    Disposition,
    DispositionApproval,
    Equipment,
    Line,
    NcLot,
    Nonconformance,
    Operation,
    Product,
    Site,
)
from qms.services.approval_notices import notify_disposition_waiting
from qms.services.attachments import add_attachment
from qms.services.esignature import SignatureError, records_failed_signatures, sign
from qms.services.nc_errors import NcError
from qms.services.record_version import version_number, version_problem

__all__ = [
    "NcError", "add_attachment", "approve_disposition", "cancel_nc", "close_nc", "complete_disposition", "create_nc",
    "create_nc_draft_from_alarm", "open_nc", "propose_disposition", "start_disposition", "update_nc",
]

logger = logging.getLogger(__name__)

State = Nonconformance.State
Decision = Disposition.Decision
DEFAULT_MRB_APPROVALS = {"critical": 2, "major": 2, "minor": 1}
APPROVE_PERMISSION = "qms.approve_disposition"
PROPOSE_PERMISSION = "qms.add_disposition"
EDITABLE_STATES = (State.DRAFT, State.OPEN, State.DISPOSITION)
LOTS_EDITABLE_STATES = (State.DRAFT, State.OPEN)
CANCELLABLE_STATES = (State.DRAFT, State.OPEN, State.DISPOSITION)
TITLE_MAX = Nonconformance._meta.get_field("title").max_length
DETECTION_MAX = Nonconformance._meta.get_field("detection_point").max_length
COMMENT_MAX = DispositionApproval._meta.get_field("comment").max_length
REASON_MAX = 500
NUMBER_ATTEMPTS = 5
QUANTITY_TOLERANCE = 1e-9

# What an approved decision does to a held lot (the hold service's vocabulary).
RELEASE_DECISIONS = frozenset({Decision.USE_AS_IS, Decision.REPAIR, Decision.DOWNGRADE})
SCRAP_DECISIONS = frozenset({Decision.SCRAP, Decision.RETURN_TO_VENDOR})

# Fields update_nc accepts; the relations are given as objects or as codes/ids of the NC's site.
SIMPLE_FIELDS = ("title", "severity", "source", "detection_point", "description", "containment", "quantity_affected")
RELATION_FIELDS = ("product", "line", "equipment", "operation", "characteristic", "owner")
EDITABLE_FIELDS = (*SIMPLE_FIELDS, *RELATION_FIELDS, "defect_codes", "lots")


def mrb_approvals_required(severity: str) -> int:
    table = {**DEFAULT_MRB_APPROVALS, **getattr(settings, "NC_MRB_APPROVALS", {})}
    return max(1, int(table.get(severity, 2)))


# --- creation ------------------------------------------------------------------------------------------------------


def create_nc(site: Site, *, title: str, source: str, severity: str, user, product=None, line=None, equipment=None,
              operation=None, characteristic=None, detection_point: str = "", description: str = "",
              containment: str = "", defect_codes: Iterable = (), lots: Iterable = (), alarm=None,
              holds: Iterable = (), evidence: dict | None = None, draft: bool = False,
              quantity_affected: float | None = None) -> Nonconformance:
    """Create an NC numbered NC-<site>-<000001> (state draft or open). `lots`: (lot or lot code, quantity) pairs
    or dicts {"lot", "quantity"}; `defect_codes`: DefectCode objects, ids or codes. Raises NcError; nothing changed."""
    title = _check_title(title)
    _check_choice("source", source, Nonconformance.Source)
    _check_choice("severity", severity, Nonconformance.Severity)
    relations = _check_relations(site, {"product": product, "line": line, "equipment": equipment,
                                        "operation": operation, "characteristic": characteristic})
    detection_point = _check_detection_point(detection_point)
    codes = _resolve_defect_codes(site, defect_codes)
    lot_rows = _resolve_lots(site, lots)
    with transaction.atomic():
        nc = _create_numbered(
            site, title=title, source=source, severity=severity, state=State.DRAFT if draft else State.OPEN,
            detection_point=detection_point, description=description or "", containment=containment or "",
            alarm=alarm, evidence=evidence or {}, created_by=_person(user), owner=_person(user),
            quantity_affected=_check_quantity_affected(quantity_affected), **relations)
        nc.defect_codes.set(codes)
        holds = list(holds)
        if holds:
            nc.holds.set(holds)
        NcLot.objects.bulk_create([NcLot(nc=nc, lot=lot, quantity=quantity, unit=lot.unit or "pcs")
                                   for lot, quantity in lot_rows])
        record_audit(action="nc_links", model=Nonconformance._meta.label, object_pk=nc.pk, object_repr=nc.number,
                     site_id=site.pk, changes={
                         "defect_codes": [None, sorted(code.code for code in codes)],
                         "lots": [None, {lot.code: quantity for lot, quantity in lot_rows}],
                         "holds": [None, sorted(hold.number for hold in holds)]})
    return nc


def create_nc_draft_from_alarm(request) -> Nonconformance:
    """Receiver side of `qms.seams.nc_draft_requested`: a draft NC pre-filled from the alarm — characteristic,
    equipment, line, the held lots' product when they share one, the trigger/SPC evidence, the held lots (quantity =
    lot quantity) and the holds. Idempotent per alarm: asked again, it returns the draft made the first time."""
    with transaction.atomic():
        alarm = Alarm.objects.select_for_update(of=("self",), no_key=True).select_related(
            "equipment", "characteristic", "line", "site").filter(pk=request.alarm_id).first()
        if alarm is None:
            raise NcError("not_found", _("Alarm %(id)s does not exist.") % {"id": request.alarm_id})
        existing = Nonconformance.objects.filter(alarm=alarm, source=Nonconformance.Source.ALARM).order_by("pk") \
            .first()
        if existing is not None:
            return existing
        from traceability.models import Hold, HoldLot

        holds = list(Hold.objects.filter(pk__in=request.hold_ids, site_id=alarm.site_id).order_by("pk"))
        held = list(HoldLot.objects.filter(hold__in=holds).select_related("lot").order_by("lot__code"))
        lots = list({entry.lot_id: entry.lot for entry in held}.values())
        products = {lot.product_id for lot in lots}
        characteristic = alarm.characteristic or (
            Characteristic.objects.filter(pk=request.characteristic_id).first() if request.characteristic_id else None)
        equipment = alarm.equipment or (
            Equipment.objects.filter(pk=request.equipment_id).first() if request.equipment_id else None)
        line = alarm.line or _line_of(equipment)
        severity = alarm.severity if alarm.severity in Nonconformance.Severity.values \
            else Nonconformance.Severity.MINOR
        evidence = {"alarm": {"id": alarm.pk, "title": alarm.title, "type": alarm.alarm_type,
                              "severity": alarm.severity, "trigger_ts": alarm.trigger_ts.isoformat(),
                              "trigger_value": alarm.trigger_value},
                    "rule_id": request.rule_id, "trigger": dict(request.evidence or {})}
        return create_nc(
            alarm.site, title=alarm.title[:TITLE_MAX], source=Nonconformance.Source.ALARM, severity=severity,
            user=None, line=line, equipment=equipment, characteristic=characteristic,
            product=Product.objects.get(pk=products.pop()) if len(products) == 1 and None not in products else None,
            detection_point=_("reaction rule on %(what)s") % {
                "what": characteristic.code if characteristic else (equipment.code if equipment else alarm.source_key)},
            description=alarm.message or "", alarm=alarm, holds=holds, evidence=evidence, draft=True,
            lots=[(lot, lot.quantity if lot.quantity is not None else 0.0) for lot in lots],
        )


def receive_nc_draft_request(sender, request, **kwargs) -> None:
    """Connected to `qms.seams.nc_draft_requested` (see qms.nc_receivers). The sender uses send_robust, which
    swallows exceptions: log them here so a failed draft is seen."""
    try:
        create_nc_draft_from_alarm(request)
    except Exception:
        logger.exception("NC draft for alarm %s failed", request.alarm_id)
        raise


# --- edits ---------------------------------------------------------------------------------------------------------


def update_nc(nc_id: int, *, user, changes: dict, expected_version: int) -> Nonconformance:
    """Apply `changes` (fields of EDITABLE_FIELDS) if the NC is still at `expected_version`; a stale version →
    NcError("stale") naming who changed it when. Lots (a list of (lot, quantity)) replace the NC's lots and may only
    change before the disposition starts."""
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise NcError("not_editable", _("These fields cannot be changed: %(fields)s.") % {"fields": ", ".join(unknown)},
                      field=unknown[0])
    with transaction.atomic():
        nc = _locked_nc(nc_id, user)
        _check_version(nc, expected_version)
        if nc.state not in EDITABLE_STATES:
            raise _illegal(nc, _("Cannot edit %(number)s: it is %(state)s."))
        if "severity" in changes and changes["severity"] != nc.severity and nc.state == State.DISPOSITION:
            # The severity decides how many MRB votes a disposition needs: changing it once the MRB is at work
            # would let a downgrade (major → minor) pass a lot on one signature.
            raise NcError("severity_locked", _("The severity of %(number)s is fixed once the disposition has "
                                               "started.") % {"number": nc.number}, field="severity")
        if "lots" in changes and nc.state not in LOTS_EDITABLE_STATES:
            raise NcError("lots_locked", _("The lots of %(number)s are fixed once the disposition has started.")
                          % {"number": nc.number}, field="lots")
        before = {}
        for name in SIMPLE_FIELDS:
            if name in changes:
                value = _checked_simple(name, changes[name])
                if getattr(nc, name) != value:
                    before[name] = getattr(nc, name)
                    setattr(nc, name, value)
        relations = _check_relations(nc.site, {name: changes[name] for name in RELATION_FIELDS
                                               if name in changes and name != "owner"})
        if "owner" in changes:
            relations["owner"] = _check_owner(nc.site, changes["owner"])
        for name, value in relations.items():
            if getattr(nc, f"{name}_id") != (value.pk if value is not None else None):
                before[name] = getattr(nc, f"{name}_id")
                setattr(nc, name, value)
        links = {}
        if "defect_codes" in changes:
            codes = _resolve_defect_codes(nc.site, changes["defect_codes"], keep=nc.defect_codes.all())
            old = sorted(nc.defect_codes.values_list("code", flat=True))
            new = sorted(code.code for code in codes)
            if old != new:
                nc.defect_codes.set(codes)
                links["defect_codes"] = [old, new]
        if "lots" in changes:
            lot_change = _replace_lots(nc, _resolve_lots(nc.site, changes["lots"]))
            if lot_change:
                links["lots"] = lot_change
        if not before and not links:
            return nc
        if links:
            record_audit(action="nc_links", model=Nonconformance._meta.label, object_pk=nc.pk, object_repr=nc.number,
                         site_id=nc.site_id, changes=links)
        _save(nc, _("edited"))
    return nc


# --- transitions ---------------------------------------------------------------------------------------------------


def open_nc(nc_id: int, *, user) -> Nonconformance:
    """draft → open: the draft has been checked and the NC is accepted."""
    with transaction.atomic():
        nc = _locked_nc(nc_id, user)
        _require_state(nc, (State.DRAFT,), _("Cannot open %(number)s: it is %(state)s."))
        nc.state = State.OPEN
        if _person(user) is not None:
            # A draft made by a reaction rule has no reporter: whoever accepts it reports it (and may then not
            # vote on its dispositions — separation of duties).
            if nc.created_by_id is None:
                nc.created_by = user
            if nc.owner_id is None:
                nc.owner = user
        _save(nc, _("opened"))
    return nc


def start_disposition(nc_id: int, *, user) -> Nonconformance:
    """open → disposition: the MRB decides what happens with the lots (needs at least one lot with a quantity)."""
    with transaction.atomic():
        nc = _locked_nc(nc_id, user)
        _require_state(nc, (State.OPEN,), _("Cannot start the disposition of %(number)s: it is %(state)s."))
        lots = list(nc.lots.select_related("lot"))
        if not lots:
            raise NcError("no_lots", _("%(number)s names no lots; add the affected lots before the disposition.")
                          % {"number": nc.number}, field="lots")
        empty = [entry.lot.code for entry in lots if entry.quantity <= 0]
        if empty:
            raise NcError("lot_quantity_missing", _("Give the nonconforming quantity of: %(lots)s.")
                          % {"lots": ", ".join(empty)}, field="lots", details={"lots": empty})
        nc.state = State.DISPOSITION
        _save(nc, _("disposition started"))
    return nc


def complete_disposition(nc_id: int, *, user) -> Nonconformance:
    """disposition → dispositioned, only when every lot's approved quantities add up to its quantity (normally done
    by the approval that completes the last lot; this is the explicit check)."""
    with transaction.atomic():
        nc = _locked_nc(nc_id, user)
        _require_state(nc, (State.DISPOSITION,),
                       _("Cannot complete the disposition of %(number)s: it is %(state)s."))
        open_lots = lots_not_adding_up(nc)
        if open_lots:
            raise NcError("quantities_do_not_add_up", _("Approved dispositions do not add up for: %(lots)s.")
                          % {"lots": ", ".join(f"{row['lot']} ({row['approved']:g}/{row['quantity']:g})"
                                               for row in open_lots)}, details={"lots": open_lots})
        nc.state = State.DISPOSITIONED
        _save(nc, _("dispositioned"))
    return nc


@records_failed_signatures
def close_nc(nc_id: int, *, user, password: str, meaning: str, expected_version=None) -> Nonconformance:
    """dispositioned → closed (or open → closed for an NC without lots), e-signed, when none of its actions is
    still open. `expected_version`: the version the signer saw; another one → NcError("stale") (the UI and API
    send it so nobody signs content they have not seen)."""
    with transaction.atomic():
        nc = _locked_nc(nc_id, user)
        if expected_version is not None:
            _check_version(nc, expected_version)
        if nc.state == State.OPEN and nc.lots.exists():
            raise NcError("disposition_required", _("%(number)s has lots: disposition them before closing.")
                          % {"number": nc.number})
        _require_state(nc, (State.DISPOSITIONED, State.OPEN), _("Cannot close %(number)s: it is %(state)s."))
        _check_can_run(user)
        _check_no_open_actions(nc)
        signature = _sign(user, password, meaning, record=nc, content={
            "nc": nc.number, "action": "close", "version": nc.version})
        nc.state = State.CLOSED
        nc.closed_at = signature.signed_at
        _save(nc, _("closed — %(meaning)s") % {"meaning": signature.meaning})
    return nc


def cancel_nc(nc_id: int, *, user, reason: str) -> Nonconformance:
    reason = str(reason or "").strip()
    if not reason:
        raise NcError("reason_required", _("State why the NC is cancelled."), field="reason")
    if len(reason) > REASON_MAX:
        raise NcError("reason_too_long", _("The reason may have at most %(max)d characters.") % {"max": REASON_MAX},
                      field="reason")
    with transaction.atomic():
        nc = _locked_nc(nc_id, user)
        _require_state(nc, CANCELLABLE_STATES, _("Cannot cancel %(number)s: it is %(state)s."))
        if nc.dispositions.filter(state=Disposition.State.APPROVED).exists():
            raise NcError("has_approved_dispositions", _("%(number)s has approved dispositions that acted on its "
                                                         "lots; it cannot be cancelled.") % {"number": nc.number})
        nc.dispositions.filter(state=Disposition.State.PROPOSED).update(
            state=Disposition.State.REJECTED, decided_at=timezone.now(), version=F("version") + 1)
        nc.state = State.CANCELLED
        nc.closed_at = timezone.now()
        _save(nc, _("cancelled: %(reason)s") % {"reason": reason})
        _cancel_open_actions(nc, reason)
    return nc


def _open_actions(nc: Nonconformance):
    from qms.models import Action

    return nc.actions.filter(state=Action.State.OPEN).order_by("pk")


def _check_no_open_actions(nc: Nonconformance) -> None:
    open_actions = list(_open_actions(nc).values("id", "title"))
    if open_actions:
        raise NcError("open_actions", _("%(number)s still has open actions: %(titles)s. Complete or cancel them "
                                        "before closing it.")
                      % {"number": nc.number, "titles": ", ".join(f"“{row['title']}”" for row in open_actions)},
                      details={"actions": open_actions})


def _cancel_open_actions(nc: Nonconformance, reason: str) -> None:
    """The cancelled NC's open actions are cancelled with it; MES instructions among them are pushed as
    cancelled (the actions service queues the write-back with this transaction)."""
    from qms.services.actions import cancel_locked

    note = _("%(number)s cancelled: %(reason)s") % {"number": nc.number, "reason": reason}
    for action in _open_actions(nc).select_for_update():
        cancel_locked(action, note)


# --- dispositions --------------------------------------------------------------------------------------------------


def propose_disposition(nc_id: int, *, user, nc_lot_id: int, decision: str, quantity, rationale: str = "",
                        now: datetime | None = None) -> Disposition:
    """Propose what to do with `quantity` of one NC lot. The proposed and approved quantities of a lot may not
    exceed its nonconforming quantity."""
    _check_choice("decision", decision, Decision)
    quantity = _check_positive("quantity", quantity)
    with transaction.atomic():
        nc = _locked_nc(nc_id, user)
        if _person(user) is None or not user.has_perm(PROPOSE_PERMISSION):
            raise NcError("not_permitted", _("Your role may not propose dispositions (quality engineers may)."))
        _require_state(nc, (State.DISPOSITION,),
                       _("Cannot propose a disposition for %(number)s: it is %(state)s."))
        entry = nc.lots.select_related("lot").filter(pk=nc_lot_id).first()
        if entry is None:
            raise NcError("lot_not_in_nc", _("This lot is not part of %(number)s.") % {"number": nc.number},
                          field="nc_lot")
        committed = _committed_quantity(entry)
        remaining = entry.quantity - committed
        if quantity > remaining + QUANTITY_TOLERANCE:
            raise NcError("quantity_exceeds_lot", _("Lot %(lot)s has %(remaining)g of %(total)g %(unit)s left to "
                                                    "disposition; %(quantity)g is too much.")
                          % {"lot": entry.lot.code, "remaining": max(remaining, 0), "total": entry.quantity,
                             "unit": entry.unit, "quantity": quantity}, field="quantity",
                          details={"remaining": max(remaining, 0), "quantity": entry.quantity})
        disposition = Disposition(
            nc=nc, nc_lot=entry, decision=decision, quantity=quantity, rationale=str(rationale or "").strip(),
            approvals_required=mrb_approvals_required(nc.severity), proposed_by=user,
            proposed_at=now or timezone.now())
        disposition._change_reason = _("proposed")
        disposition.save()
        notify_disposition_waiting(nc, disposition)
        _save(nc, _("disposition proposed: %(decision)s × %(quantity)g of %(lot)s")
              % {"decision": disposition.get_decision_display(), "quantity": quantity, "lot": entry.lot.code})
    return disposition


@records_failed_signatures
def approve_disposition(disposition_id: int, *, user, password: str, meaning: str, vote: str,
                        comment: str = "", expected_version=None) -> Disposition:
    """One MRB member's e-signed vote. Approve votes count until `approvals_required`; one reject rejects. The
    approval that completes a lot decides its held lots on the disposition's authority, recorded with that vote's
    signature (one password; any MRB member may give the final vote). `expected_version`: the NC version the voter
    reviewed; another one (lots, quantities or severity changed meanwhile) → NcError("stale"), nothing signed."""
    _check_choice("vote", vote, DispositionApproval.Vote)
    comment = str(comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise NcError("comment_too_long", _("The comment may have at most %(max)d characters.") % {"max": COMMENT_MAX},
                      field="comment")
    nc_id = Disposition.objects.filter(pk=disposition_id).values_list("nc_id", flat=True).first()
    if nc_id is None:
        raise NcError("not_found", _("Disposition %(id)s does not exist.") % {"id": disposition_id})
    with transaction.atomic():
        nc = _locked_nc(nc_id, user)
        if expected_version is not None:
            _check_version(nc, expected_version)
        disposition = Disposition.objects.select_for_update(of=("self",)).select_related("nc_lot__lot") \
            .get(pk=disposition_id)
        _check_voter(nc, disposition, user)
        approvals = disposition.approvals.filter(vote=DispositionApproval.Vote.APPROVE).count()
        required = max(disposition.approvals_required, mrb_approvals_required(nc.severity))
        final = vote == DispositionApproval.Vote.APPROVE and approvals + 1 >= required
        hold_lots = []
        if final and disposition.nc_lot_id is not None:
            hold_lots = _lock_holds_to_decide(nc, disposition)
        signature = _sign(user, password, meaning, record=disposition, content={
            "nc": nc.number, "disposition": disposition.pk, "decision": disposition.decision,
            "quantity": disposition.quantity, "lot": disposition.nc_lot.lot.code if disposition.nc_lot_id else None,
            "vote": vote, "comment": comment, "nc_version": nc.version})
        DispositionApproval.objects.create(disposition=disposition, user=user, vote=vote, comment=comment,
                                           signature=signature, at=signature.signed_at)
        record_audit(action="mrb_vote", model=Disposition._meta.label, object_pk=disposition.pk,
                     object_repr=f"{nc.number}: {disposition}", site_id=nc.site_id,
                     reason=f"{signature.meaning} — {comment}" if comment else signature.meaning,
                     changes={"vote": [None, vote], "signature": [None, signature.pk]})
        if vote == DispositionApproval.Vote.REJECT:
            _decide(disposition, Disposition.State.REJECTED, signature.signed_at, _("rejected by %(user)s")
                    % {"user": user.get_username()})
        elif final:
            _decide(disposition, Disposition.State.APPROVED, signature.signed_at, _("approved"))
            if hold_lots:
                _dispose_held_lots(nc, disposition, hold_lots, signature)
            if not lots_not_adding_up(nc):
                nc.state = State.DISPOSITIONED
        _save(nc, _("MRB vote %(vote)s by %(user)s on %(disposition)s")
              % {"vote": vote, "user": user.get_username(), "disposition": disposition})
    return disposition


def lots_not_adding_up(nc: Nonconformance) -> list[dict]:
    """The NC's lots whose approved disposition quantities differ from their nonconforming quantity."""
    rows = []
    for entry in nc.lots.select_related("lot").order_by("lot__code"):
        approved = _approved_quantity(entry)
        if abs(approved - entry.quantity) > QUANTITY_TOLERANCE:
            rows.append({"lot": entry.lot.code, "quantity": entry.quantity, "approved": approved})
    return rows


def hold_decision_for(entry: NcLot) -> str | None:
    """The hold decision a fully dispositioned NC lot calls for: rework when any of it is reworked; scrap when all
    of it is scrapped/returned and it is the whole lot; otherwise release (the nonconforming part was scrapped,
    returned, repaired, downgraded or accepted; the rest of the lot is conforming). None while it does not add up."""
    approved = list(entry.dispositions.filter(state=Disposition.State.APPROVED).values_list("decision", "quantity"))
    if abs(sum(quantity for _d, quantity in approved) - entry.quantity) > QUANTITY_TOLERANCE:
        return None
    decisions = {decision for decision, _q in approved}
    if Decision.REWORK in decisions:
        return "rework"
    whole_lot = entry.lot.quantity is None or entry.quantity + QUANTITY_TOLERANCE >= entry.lot.quantity
    if decisions <= SCRAP_DECISIONS and whole_lot:
        return "scrap"
    return "release"


# --- internals -----------------------------------------------------------------------------------------------------


def _person(user):
    if user is None or getattr(user, "pk", None) is None or not getattr(user, "is_authenticated", False):
        return None
    return user


def _check_can_run(user) -> None:
    if _person(user) is None or not user.has_perm("qms.change_nonconformance"):
        raise NcError("not_permitted", _("Your role may not change nonconformances (quality engineers may)."))


def _locked_nc(nc_id: int, user) -> Nonconformance:
    nc = Nonconformance.objects.select_for_update(of=("self",)).select_related("site").filter(pk=nc_id).first()
    if nc is None or (_person(user) is not None and nc.site_id not in allowed_site_ids(user)):
        raise NcError("not_found", _("Nonconformance %(id)s does not exist.") % {"id": nc_id})
    return nc


def _save(nc: Nonconformance, reason: str) -> None:
    nc.version += 1
    nc._change_reason = reason
    nc.save()


def _check_version(nc: Nonconformance, expected_version) -> None:
    expected = version_number(expected_version)
    if expected is None:
        raise NcError("version_required", version_problem(expected_version), field="version")
    if expected == nc.version:
        return
    last = nc.history.order_by("-history_date", "-history_id").first()
    who = (getattr(last, "history_actor", "") or (last.history_user.get_username() if last and last.history_user_id
                                                  else _("someone"))) if last else _("someone")
    when = timezone.localtime(last.history_date).strftime("%Y-%m-%d %H:%M:%S") if last else "?"
    raise NcError("stale", _("Someone else (%(who)s) changed this NC at %(when)s — reload it and apply your change "
                             "again.") % {"who": who, "when": when},
                  details={"current_version": nc.version, "your_version": expected, "changed_by": who,
                           "changed_at": last.history_date.isoformat() if last else None})


def _illegal(nc: Nonconformance, message: str) -> NcError:
    """`message`: a whole translated sentence with %(number)s and %(state)s (no verb fragments: word order differs
    between languages)."""
    return NcError("illegal_transition", message % {"number": nc.number, "state": nc.get_state_display()},
                   details={"state": nc.state})


def _require_state(nc: Nonconformance, states, message: str) -> None:
    if nc.state not in states:
        raise _illegal(nc, message)


def _check_title(title) -> str:
    title = str(title or "").strip()
    if not title:
        raise NcError("title_required", _("Give the NC a title."), field="title")
    if len(title) > TITLE_MAX:
        raise NcError("title_too_long", _("The title may have at most %(max)d characters.") % {"max": TITLE_MAX},
                      field="title")
    return title


def _check_detection_point(value) -> str:
    value = str(value or "").strip()
    if len(value) > DETECTION_MAX:
        raise NcError("detection_point_too_long", _("The detection point may have at most %(max)d characters.")
                      % {"max": DETECTION_MAX}, field="detection_point")
    return value


def _check_choice(field: str, value, choices) -> None:
    if value not in choices.values:
        raise NcError(f"invalid_{field}", _("Unknown %(field)s %(value)r; one of: %(choices)s.")
                      % {"field": field, "value": value, "choices": ", ".join(choices.values)}, field=field)


def _check_positive(field: str, value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise NcError(f"{field}_invalid", _("The %(field)s must be a number.") % {"field": field}, field=field) from None
    if not math.isfinite(number) or not number > 0:
        raise NcError(f"{field}_invalid", _("The %(field)s must be greater than zero.") % {"field": field},
                      field=field)
    return number


def _check_quantity_affected(value):
    if value in (None, ""):
        return None
    return _check_positive("quantity_affected", value)


def _checked_simple(name: str, value):
    if name == "title":
        return _check_title(value)
    if name in ("severity", "source"):
        _check_choice(name, value, {"severity": Nonconformance.Severity, "source": Nonconformance.Source}[name])
        return value
    if name == "detection_point":
        return _check_detection_point(value)
    if name == "quantity_affected":
        return _check_quantity_affected(value)
    return str(value or "")


RELATION_MODELS = {"product": Product, "line": Line, "equipment": Equipment, "operation": Operation,
                   "characteristic": Characteristic}
RELATION_SITE = {"product": "site_id", "line": "area__site_id", "equipment": "site_id",
                 "operation": "product__site_id", "characteristic": "site_id"}
RELATION_CODE = {"product": "part_number", "line": "code", "equipment": "code", "operation": "code",
                 "characteristic": "code"}


def _check_relations(site: Site, given: dict) -> dict:
    """Objects, ids or codes → objects of `site`; anything of another site is refused naming the field."""
    resolved = {}
    for name, value in given.items():
        if value in (None, ""):
            resolved[name] = None
            continue
        model = RELATION_MODELS[name]
        queryset = model.objects.filter(**{RELATION_SITE[name]: site.pk})
        if isinstance(value, model):
            found = queryset.filter(pk=value.pk).first()
        elif isinstance(value, int) or str(value).isdigit():
            found = queryset.filter(pk=int(value)).first()
        else:
            found = queryset.filter(**{RELATION_CODE[name]: str(value).strip()}).first()
        if found is None:
            raise NcError(f"unknown_{name}", _("Unknown %(field)s %(value)s in site %(site)s.")
                          % {"field": name, "value": value, "site": site.code}, field=name)
        resolved[name] = found
    return resolved


def _check_owner(site: Site, owner):
    if owner in (None, ""):
        return None
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(is_active=True)
    if isinstance(owner, get_user_model()):
        found = users.filter(pk=owner.pk).first()
    elif str(owner).isdigit():
        found = users.filter(pk=int(owner)).first()
    else:
        found = users.filter(username=str(owner).strip()).first()
    if found is None or site.pk not in allowed_site_ids(found):
        raise NcError("unknown_owner", _("The owner must be an active member of site %(site)s.") % {"site": site.code},
                      field="owner")
    return found


def _resolve_defect_codes(site: Site, codes, keep=()) -> list[DefectCode]:
    """Active codes usable by `site` (its own or shared); codes the NC already has may stay even if deactivated."""
    if isinstance(codes, (str, int, DefectCode)):
        codes = [codes]
    wanted = list(dict.fromkeys(codes or ()))
    usable = DefectCode.objects.filter(Q(site=site) | Q(site__isnull=True))
    kept = {code.pk for code in keep}
    found, unknown = [], []
    for item in wanted:
        if isinstance(item, DefectCode):
            code = usable.filter(pk=item.pk).first()
        elif isinstance(item, int) or str(item).isdigit():
            code = usable.filter(pk=int(item)).first()
        else:
            code = usable.filter(code=str(item).strip().upper()).order_by("site_id").first()
        if code is None or (not code.active and code.pk not in kept):
            unknown.append(str(getattr(item, "code", item)))
        else:
            found.append(code)
    if unknown:
        raise NcError("unknown_defect_code", _("Unknown or deactivated defect code(s): %(codes)s.")
                      % {"codes": ", ".join(unknown)}, field="defect_codes", details={"codes": unknown})
    return found


def _resolve_lots(site: Site, lots) -> list[tuple]:
    """[(Lot, quantity)] from (lot or code, quantity) pairs or {"lot", "quantity"} dicts: each lot of the site,
    once, quantity ≥ 0 and at most the lot's quantity when that is known."""
    from traceability.models import Lot

    rows, seen, problems = [], set(), {}
    for item in lots or ():
        lot, quantity = (item.get("lot"), item.get("quantity")) if isinstance(item, dict) else item
        code = lot.code if isinstance(lot, Lot) else str(lot or "").strip()
        found = Lot.objects.filter(site=site, code=code).first() if code else None
        if found is None:
            problems[code or "?"] = _("unknown lot in site %(site)s") % {"site": site.code}
            continue
        if found.pk in seen:
            problems[code] = _("named twice")
            continue
        seen.add(found.pk)
        try:
            quantity = float(quantity)
        except (TypeError, ValueError):
            problems[code] = _("the quantity must be a number")
            continue
        if not math.isfinite(quantity):
            problems[code] = _("the quantity must be a finite number")
        elif quantity < 0:
            problems[code] = _("the quantity cannot be negative")
        elif found.quantity is not None and quantity > found.quantity + QUANTITY_TOLERANCE:
            problems[code] = _("%(quantity)g is more than the lot's quantity %(lot_quantity)g") % {
                "quantity": quantity, "lot_quantity": found.quantity}
        else:
            rows.append((found, quantity))
    if problems:
        raise NcError("invalid_lots", "; ".join(f"{code}: {problem}" for code, problem in problems.items()),
                      field="lots", details={"lots": problems})
    return rows


def _replace_lots(nc: Nonconformance, rows: list[tuple]) -> list | None:
    current = {entry.lot_id: entry for entry in nc.lots.select_related("lot")}
    wanted = {lot.pk: (lot, quantity) for lot, quantity in rows}
    before = {entry.lot.code: entry.quantity for entry in current.values()}
    after = {lot.code: quantity for lot, quantity in rows}
    if before == after:
        return None
    nc.lots.exclude(lot_id__in=wanted).delete()
    for lot_id, (lot, quantity) in wanted.items():
        entry = current.get(lot_id)
        if entry is None:
            NcLot.objects.create(nc=nc, lot=lot, quantity=quantity, unit=lot.unit or "pcs")
        elif entry.quantity != quantity:
            entry.quantity = quantity
            entry.save(update_fields=["quantity"])
    return [before, after]


def _line_of(equipment):
    if equipment is None or equipment.work_center_id is None:
        return None
    return equipment.work_center.line


def _next_number(site: Site) -> str:
    prefix = f"NC-{site.code}-"
    last = (Nonconformance.objects.filter(site=site, number__startswith=prefix)
            .order_by(Length("number").desc(), "-number").values_list("number", flat=True).first())
    sequence = int(last.removeprefix(prefix)) + 1 if last and last.removeprefix(prefix).isdigit() else 1
    return f"{prefix}{sequence:06d}"


def _create_numbered(site: Site, **fields) -> Nonconformance:
    """The next number of the site. On PostgreSQL a transaction-level advisory lock per site serialises numbering
    (two NCs created at once wait for each other instead of failing); the unique (site, number) index stays the
    safety net, with a retry under a savepoint."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('qms.nc.number'), %s)", [site.pk])
    for attempt in range(NUMBER_ATTEMPTS):
        nc = Nonconformance(site=site, number=_next_number(site), **fields)
        nc._change_reason = _("created as a draft") if fields.get("state") == State.DRAFT else _("created")
        try:
            with transaction.atomic():
                nc.save()
            return nc
        except IntegrityError:
            if attempt == NUMBER_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _committed_quantity(entry: NcLot) -> float:
    """Quantity of the lot already proposed (pending) or approved."""
    total = entry.dispositions.filter(state__in=(Disposition.State.PROPOSED, Disposition.State.APPROVED)) \
        .aggregate(total=Sum("quantity"))["total"]
    return float(total or 0.0)


def _approved_quantity(entry: NcLot) -> float:
    total = entry.dispositions.filter(state=Disposition.State.APPROVED).aggregate(total=Sum("quantity"))["total"]
    return float(total or 0.0)


def _check_voter(nc: Nonconformance, disposition: Disposition, user) -> None:
    if _person(user) is None:
        raise NcError("signature_user", _("Only a signed-in person can vote; machine tokens cannot sign."))
    if not user.has_perm(APPROVE_PERMISSION):
        raise NcError("not_permitted", _("Only members of the material review board may vote on dispositions."))
    if nc.state != State.DISPOSITION:
        raise _illegal(nc, _("Cannot vote on a disposition of %(number)s: it is %(state)s."))
    if disposition.state != Disposition.State.PROPOSED:
        raise NcError("disposition_decided", _("This disposition was already %(state)s at %(at)s.")
                      % {"state": disposition.get_state_display(),
                         "at": disposition.decided_at.isoformat() if disposition.decided_at else "?"},
                      details={"state": disposition.state})
    if user.pk == disposition.proposed_by_id:
        raise NcError("separation_of_duties", _("You proposed this disposition; another MRB member must approve it."))
    if user.pk == nc.created_by_id:
        raise NcError("separation_of_duties", _("You reported %(number)s; another MRB member must approve its "
                                                "dispositions.") % {"number": nc.number})
    if user.pk == nc.owner_id:
        raise NcError("separation_of_duties", _("You own %(number)s; another MRB member must approve its "
                                                "dispositions.") % {"number": nc.number})
    if disposition.approvals.filter(user=user).exists():
        raise NcError("already_voted", _("You have already voted on this disposition."))


def _lock_holds_to_decide(nc: Nonconformance, disposition: Disposition) -> list:
    """The undecided HoldLots of the disposition's lot — the NC's holds first, else any hold of the lot — with
    their holds locked now (before the signature's audit entry; see the module's lock order)."""
    from traceability.models import Hold, HoldLot

    undecided = HoldLot.objects.filter(lot_id=disposition.nc_lot.lot_id,
                                       disposition__in=(HoldLot.Disposition.HELD, HoldLot.Disposition.REWORK))
    linked = undecided.filter(hold__in=nc.holds.all())
    entries = list((linked if linked.exists() else undecided).order_by("hold_id", "pk").values_list("pk", "hold_id"))
    if entries:
        list(Hold.objects.select_for_update(no_key=True).filter(pk__in={hold_id for _pk, hold_id in entries}).order_by("pk")
             .values_list("pk", flat=True))
    return [pk for pk, _hold_id in entries]


def _dispose_held_lots(nc, disposition, hold_lot_ids, signature) -> None:
    """Decide the lot's held entries on the authority of the approved disposition, with the final vote's
    signature (the MRB decides the lot; the voter needs no hold permission of their own)."""
    from traceability.services.holds import HoldError, decide_lots_by_disposition

    decision = hold_decision_for(disposition.nc_lot)
    if decision is None:
        return  # the lot does not add up yet: it stays held
    disposition.nc = nc
    try:
        decide_lots_by_disposition(disposition, hold_lot_ids, decision=decision, signature=signature)
    except HoldError as error:
        if error.code == "already_decided":  # another decider was first: reload and look again
            message = _("The held lot %(lot)s could not be decided: %(message)s Nothing was changed.")
        else:  # the hand-over of the approved disposition to the hold broke an invariant: not the voter's doing
            message = _("The held lot %(lot)s could not be decided: %(message)s Nothing was changed; please report "
                        "this to an administrator.")
        raise NcError(f"hold_{error.code}", message % {"lot": disposition.nc_lot.lot.code, "message": error.message},
                      details={"hold_error": error.code}) from None


def _decide(disposition: Disposition, state: str, at, reason: str) -> None:
    disposition.state = state
    disposition.decided_at = at
    disposition.version += 1
    disposition._change_reason = reason
    disposition.save()


def _sign(user, password, meaning, *, record, content):
    if _person(user) is None:
        raise NcError("signature_user", _("Only a signed-in person can sign; machine tokens cannot."))
    try:
        return sign(user, password, meaning=meaning, record=record, content=content, site_id=record_site(record))
    except SignatureError as exc:
        field = {"signature_password": "password", "signature_meaning": "meaning"}.get(exc.code)
        raise NcError(exc.code, exc.message, field=field) from None


def record_site(record) -> int | None:
    return getattr(record, "site_id", None) or getattr(getattr(record, "nc", None), "site_id", None)
