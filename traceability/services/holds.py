"""Holds (freezes): placing them, keeping an open time window collecting lots, and the e-signed decisions on held lots.

Scope of a hold: explicit lots and/or every lot with a run on one equipment overlapping [window_start, window_end]
(both ends inclusive, as `lots_on_equipment_between`; window_end None = open), optionally propagated forward to
everything made from them (`trace_forward`, depth = genealogy edges from the nearest seed). The lots are
materialised in HoldLot on PostgreSQL by one statement, the recursive trace as a CTE feeding INSERT … SELECT (the
lots never travel to Python and back), so a 10,000-lot window costs a few statements, not 10,000.

Open windows: while window_end is None a lot that starts on the equipment joins the hold — `start_lot_run` locks
the holds its run overlaps (`lock_holds_for_run`, before its first audited change) and calls `hold_lots_of_new_run`
in its transaction, under the equipment row lock that `place_hold` takes too, so a run starting while a hold is being
placed is held either way. Closing the window fixes window_end.

States: active (no lot decided) → partially_released (some decided, or all decided while the window is still open)
→ released (no lot held or in rework, window closed). Decisions per lot: held → release | rework | scrap | nc;
rework → release | scrap | nc; release, scrap and nc are final.

Who decides: a person with `traceability.release_hold` (quality engineers), e-signing the decision — or the material
review board: an approved NC disposition is itself the authority for its lot's held entries, decided with the final
MRB vote's signature (`decide_lots_by_disposition`), whatever the voter's own hold permission.

Locks, always in this order: equipment row → (site row, FOR NO KEY UPDATE, when the hold propagates: genealogy
writers take it too) → hold row → its HoldLot rows → audit chain head → LotVerdict rows. Callers that append to the
audit chain before they reach a hold service take its locks first (`lock_for_freeze`, `lock_holds_for_run`); the
deadlocks this prevents are reproduced in tests/test_holds_concurrency.py and tests/rules/test_reaction_races.py.
Every change: one transaction, audit entries, `note_lots_changed` for the verdict cache inside it, `hold_changed`
after commit.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import partial

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q
from django.db.models.functions import Length
from django.utils import timezone
from django.utils.translation import gettext as _

from qms.audit.chain import audit_batch, record_audit
from qms.audit.context import current_actor
from qms.auth.scoping import allowed_site_ids
from qms.models import Disposition as NcDisposition
from qms.models import Equipment, ESignature, Site
from qms.services.esignature import SignatureError, records_failed_signatures, sign
from qms.services.record_version import version_number, version_problem
from traceability.models import Hold, HoldLot, Lot, LotRun
from traceability.seams import hold_changed
from traceability.services.genealogy import (
    DEFAULT_MAX_DEPTH,
    FORWARD,
    lock_site_genealogy,
    no_jit,
    trace_forward,
    trace_sql,
    warn_if_max_depth,
)
from traceability.services.lookup import iso
from traceability.services.runs import lock_equipment, lots_on_equipment_between
from traceability.verdicts.write_through import note_lots_changed

logger = logging.getLogger(__name__)

RELEASE_PERMISSION = "traceability.release_hold"
MRB_PERMISSION = "qms.approve_disposition"
REASON_MAX = Hold._meta.get_field("reason").max_length
COMMENT_MAX = HoldLot._meta.get_field("comment").max_length
NUMBER_ATTEMPTS = 5
# Clocks of MES and server differ a little; a window may end this far in the server's future.
FUTURE_TOLERANCE_S = 300

Disposition = HoldLot.Disposition
FINAL_DISPOSITIONS = frozenset({Disposition.RELEASE, Disposition.SCRAP, Disposition.NC})
DECISIONS = (Disposition.RELEASE, Disposition.REWORK, Disposition.SCRAP, Disposition.NC)
# Which decision may follow which: a lot sent to rework gets a second, final decision.
ALLOWED_AFTER = {
    Disposition.HELD: frozenset(DECISIONS),
    Disposition.REWORK: frozenset({Disposition.RELEASE, Disposition.SCRAP, Disposition.NC}),
}
STILL_HOLDING = (Disposition.HELD, Disposition.REWORK)


class HoldError(Exception):
    """A hold request refused; `code` is machine-readable, `message` names the problem, `field` the input at fault."""

    def __init__(self, code: str, message: str, *, field: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.details = details or {}

    def __str__(self):
        return self.message


# --- placing -------------------------------------------------------------------------------------------------------


def place_hold(site: Site, *, reason: str, lots: Iterable[str | Lot] = (), equipment: Equipment | None = None,
               window_start: datetime | None = None, window_end: datetime | None = None,
               propagate_forward: bool = False, alarm=None, source: str | None = None,
               now: datetime | None = None) -> Hold:
    """Hold the named lots and/or every lot that ran on `equipment` in the window (plus, with `propagate_forward`,
    everything made from them). Raises HoldError for bad input; nothing is changed then."""
    now = now or timezone.now()
    reason = _check_reason(reason)
    codes = _lot_codes(lots)
    _check_scope(site, codes, equipment, window_start, window_end, now)
    source = source or (Hold.Source.ALARM if alarm is not None else Hold.Source.MANUAL)
    if source not in Hold.Source.values:
        raise HoldError("invalid_source", _("Unknown hold source %(source)r.") % {"source": source}, field="source")
    with transaction.atomic():
        _lock_scope(site.pk, equipment, propagate_forward)
        # The audit entries (the hold's history and "place_hold") join the chain when this block ends, so the chain
        # head — which every audited write in the system waits for — is locked after the trace and the insert, not
        # during them. Still before the verdict hook's LotVerdict row locks: head → LotVerdict, as every hold writer.
        with audit_batch():
            direct = _resolve_lots(site, codes)
            hold = _create_numbered(
                site, reason=reason, source=source, alarm=alarm, equipment=equipment, window_start=window_start,
                window_end=window_end, propagate_forward=propagate_forward, placed_at=now,
                placed_by=current_actor().label,
            )
            direct_ids = {lot.pk for lot in direct.values()}
            seeds = Q(pk__in=direct_ids)
            if equipment is not None:
                seeds |= Q(pk__in=lots_on_equipment_between(equipment, window_start, window_end, now=now).values("pk"))
            added = _materialise(hold, Lot.objects.filter(seeds), direct_ids=direct_ids, via=HoldLot.Via.WINDOW,
                                 new_hold=True)
            record_audit(action="place_hold", model=Hold._meta.label, object_pk=hold.pk, object_repr=hold.number,
                         site_id=site.pk, reason=reason,
                         changes={"lots": [None, len(added)], "scope": [None, describe_scope(hold)]})
        _lots_changed(hold, added, "placed")
    return hold


def lock_for_freeze(equipment: Equipment, *, propagate_forward: bool) -> None:
    """The locks `freeze_window` takes first (equipment row; the site's genealogy lock when it propagates), for a
    caller that appends to the audit chain before it freezes in the same transaction: taking them before keeps the
    chain head the last lock (qms.audit.chain). Taking them again in `freeze_window` is a no-op."""
    _lock_scope(equipment.site_id, equipment, propagate_forward)


def _lock_scope(site_id: int, equipment: Equipment | None, propagate_forward: bool) -> None:
    """The first locks of a hold being placed (`place_hold`, and ahead of it `lock_for_freeze`)."""
    if equipment is not None:
        lock_equipment(equipment.pk)  # a run starting now either is seen here or sees this hold
    if propagate_forward:
        lock_site_genealogy(site_id)  # an edge recorded now either is traced here or sees this hold


def freeze_window(equipment: Equipment, start: datetime, end: datetime | None = None, *, reason: str,
                  propagate_forward: bool = True, alarm=None) -> Hold:
    """Hold every lot that ran on `equipment` overlapping [start, end or open) and (propagate) what was made from
    them. While `end` is None the window stays open and lots starting on the equipment join the hold."""
    return place_hold(equipment.site, reason=reason, equipment=equipment, window_start=start, window_end=end,
                      propagate_forward=propagate_forward, alarm=alarm)


def lock_holds(hold_ids: Iterable[int]) -> None:
    """Row-lock the holds in id order, as every locker of several holds does. FOR NO KEY UPDATE (here and in
    `_locked_hold`): a mutex between hold writers that does not block the key-share lock a foreign-key check takes at
    another transaction's commit (a row referencing the hold), which could otherwise close a deadlock through the
    audit chain's head."""
    hold_ids = sorted(set(hold_ids))
    if hold_ids:
        list(Hold.objects.select_for_update(no_key=True).filter(pk__in=hold_ids).order_by("pk").values_list("pk", flat=True))


def _holds_for_run(equipment_id: int, started_at: datetime, ended_at: datetime | None):
    """The undecided holds whose window on the equipment a run [started_at, ended_at] overlaps (an open window covers
    every later start; a late-recorded run inside a closed window overlaps too)."""
    overlapping = Q(window_end__isnull=True) | Q(window_end__gte=started_at)
    if ended_at is not None:
        overlapping &= Q(window_start__lte=ended_at)
    return Hold.objects.filter(overlapping, equipment_id=equipment_id, window_start__isnull=False) \
        .exclude(state=Hold.State.RELEASED)


def hold_ids_for_run(equipment_id: int, started_at: datetime, ended_at: datetime | None) -> set[int]:
    return set(_holds_for_run(equipment_id, started_at, ended_at).values_list("pk", flat=True))


def lock_holds_for_run(equipment_id: int, started_at: datetime, ended_at: datetime | None) -> list[Hold]:
    """`hold_ids_for_run`, row-locked in id order. `start_lot_run` takes these locks right after the equipment's,
    before its first audited change: every hold writer locks the hold before the audit chain's head, so taking them
    after the head could deadlock."""
    return list(_holds_for_run(equipment_id, started_at, ended_at).select_for_update(no_key=True).order_by("pk"))


def hold_lots_of_new_run(run: LotRun, holds: list[Hold]) -> list[Hold]:
    """Called by `start_lot_run` inside its transaction for a newly recorded run, with the holds it locked
    (`lock_holds_for_run`): the run's lot joins each of them."""
    joined = []
    for hold in holds:
        added = _materialise(hold, Lot.objects.filter(pk=run.lot_id), direct_ids=set(), via=HoldLot.Via.WINDOW)
        if not added:
            continue
        _save_hold(hold, reason=_("lot %(lot)s started on %(equipment)s inside the hold window")
                   % {"lot": run.lot.code, "equipment": run.equipment.code})
        record_audit(action="lots_added", model=Hold._meta.label, object_pk=hold.pk, object_repr=hold.number,
                     site_id=hold.site_id, changes={"lots": [None, len(added)]},
                     reason=_("lot %(lot)s started on %(equipment)s at %(at)s")
                     % {"lot": run.lot.code, "equipment": run.equipment.code, "at": iso(run.started_at)})
        _lots_changed(hold, added, "lots_added")
        joined.append(hold)
    return joined


# --- the window ----------------------------------------------------------------------------------------------------


def close_hold_window(hold_id: int, *, end: datetime, now: datetime | None = None) -> Hold:
    """Fix the end of an open window (e.g. the alarm cleared at `end`); lots starting later are not held. Closing
    it again at the same end is a harmless retry; at another end a HoldError("window_closed")."""
    now = now or timezone.now()
    _check_instant("end", end, now)
    with transaction.atomic():
        hold = _locked_hold(hold_id)
        if hold.window_start is None:
            raise HoldError("no_window", _("Hold %(hold)s has no time window.") % {"hold": hold.number})
        if hold.window_end is not None:
            if hold.window_end == end:
                return hold
            raise HoldError("window_closed", _("The window of hold %(hold)s was already closed at %(end)s.")
                            % {"hold": hold.number, "end": iso(hold.window_end)},
                            details={"window_end": iso(hold.window_end)})
        if end < hold.window_start:
            raise HoldError("window_end_before_start",
                            _("The window of hold %(hold)s starts at %(start)s; it cannot end before (%(end)s).")
                            % {"hold": hold.number, "start": iso(hold.window_start), "end": iso(end)}, field="end")
        hold.window_end = end
        _save_hold(hold, reason=_("window closed at %(end)s") % {"end": iso(end)})
        _announce(hold, "window_closed")
    return hold


def lock_alarm_windows(alarm_id: int) -> None:
    """Row-lock the holds whose window the alarm opened and that are still open — for an alarm transition that
    closes them, before its own audit entry locks the chain head (holds before head; see "Locks" above)."""
    lock_holds(Hold.objects.filter(alarm_id=alarm_id, window_start__isnull=False, window_end__isnull=True)
               .values_list("pk", flat=True))


def close_alarm_windows(alarm_id: int, *, end: datetime) -> list[Hold]:
    """Close the open windows of every hold the alarm placed (the alarm's condition cleared at `end`)."""
    hold_ids = list(Hold.objects.filter(alarm_id=alarm_id, window_start__isnull=False, window_end__isnull=True,
                                        window_start__lte=end).order_by("pk").values_list("pk", flat=True))
    lock_holds(hold_ids)  # all of them before the first one's audited change
    return [close_hold_window(hold_id, end=end) for hold_id in hold_ids]


# --- decisions -----------------------------------------------------------------------------------------------------


@records_failed_signatures
def dispose_hold_lot(hold_lot_id: int, *, disposition: str, user, password: str, meaning: str, comment: str = "",
                     version: int | None = None) -> HoldLot:
    """Decide on one held lot, e-signed. `version` (optional) is the HoldLot version the decider saw: if the lot
    changed meanwhile the decision is refused (already_decided) instead of applied on top."""
    if disposition not in DECISIONS:
        raise HoldError("invalid_disposition", _("Unknown disposition %(value)r; one of: %(choices)s.")
                        % {"value": disposition, "choices": ", ".join(DECISIONS)}, field="disposition")
    comment = _check_comment(comment)
    if version is not None and version_number(version) is None:
        raise HoldError("invalid_version", version_problem(version), field="version")
    version = version_number(version) if version is not None else None
    _check_signer(user)
    hold_id = HoldLot.objects.filter(pk=hold_lot_id).values_list("hold_id", flat=True).first()
    if hold_id is None:
        raise HoldError("not_found", _("Held lot %(id)s does not exist.") % {"id": hold_lot_id})
    with transaction.atomic():
        hold = _locked_hold(hold_id)
        _check_member(user, hold)
        entry = HoldLot.objects.select_for_update(of=("self",)).select_related("lot").get(pk=hold_lot_id)
        before = entry.disposition
        if disposition not in ALLOWED_AFTER.get(before, ()) or (version is not None and version != entry.version):
            raise _already_decided(hold, entry)
        signature = _sign(user, password, meaning, record=entry, site_id=hold.site_id, content={
            "hold": hold.number, "lot": entry.lot.code, "disposition": disposition, "comment": comment})
        _apply_decision(hold, entry, disposition, signature, comment)
    return entry


def decide_lots_by_disposition(nc_disposition: NcDisposition, hold_lot_ids: Sequence[int], *, decision: str,
                               signature: ESignature) -> list[HoldLot]:
    """Decide held lots on the authority of an approved MRB disposition, with the signature of the vote that
    approved it (no second password, and no hold permission of the voter's own: the board's decision is the
    authority). Call it inside the transaction of that vote. Only entries of the disposition's lot, in holds of the
    NC's site, are decided; an entry already at `decision` (rework reworked again) is left as it is. The comment
    names the NC and the disposition. Raises HoldError when the signature is not the approval of this disposition,
    or an entry was decided meanwhile (nothing is changed then: the caller's transaction rolls back)."""
    if decision not in DECISIONS:
        raise HoldError("invalid_disposition", _("Unknown disposition %(value)r; one of: %(choices)s.")
                        % {"value": decision, "choices": ", ".join(DECISIONS)}, field="disposition")
    _check_mrb_authority(nc_disposition, signature)
    nc = nc_disposition.nc
    comment = _check_comment(_("%(number)s disposition %(id)s: %(decision)s") % {
        "number": nc.number, "id": nc_disposition.pk, "decision": nc_disposition.get_decision_display()})
    hold_ids = sorted(set(HoldLot.objects.filter(pk__in=hold_lot_ids).values_list("hold_id", flat=True)))
    decided = []
    with transaction.atomic():
        for hold_id in hold_ids:  # holds in id order, as every other locker of several holds
            hold = _locked_hold(hold_id)
            entries = (HoldLot.objects.select_for_update(of=("self",)).select_related("lot")
                       .filter(pk__in=hold_lot_ids, hold=hold).order_by("pk"))
            for entry in entries:
                if hold.site_id != nc.site_id or entry.lot_id != nc_disposition.nc_lot.lot_id:
                    raise HoldError("not_in_disposition", _("Lot %(lot)s of hold %(hold)s is not the lot of "
                                                            "disposition %(id)s of %(number)s.")
                                    % {"lot": entry.lot.code, "hold": hold.number, "id": nc_disposition.pk,
                                       "number": nc.number})
                if entry.disposition == decision:
                    continue
                if decision not in ALLOWED_AFTER.get(entry.disposition, ()):
                    raise _already_decided(hold, entry)
                _apply_decision(hold, entry, decision, signature, comment,
                                authority={"nc": nc.number, "disposition": nc_disposition.pk})
                decided.append(entry)
    return decided


@records_failed_signatures
def release_hold(hold_id: int, *, user, password: str, meaning: str, comment: str = "",
                 now: datetime | None = None) -> Hold:
    """Release every still-held lot with one signature and end the hold (an open window closes now). Lots in rework
    need their own decision first (HoldError "rework_pending")."""
    comment = _check_comment(comment)
    _check_signer(user)
    if not Hold.objects.filter(pk=hold_id).exists():
        raise HoldError("not_found", _("Hold %(id)s does not exist.") % {"id": hold_id})
    with transaction.atomic():
        hold = _locked_hold(hold_id)
        _check_member(user, hold)
        if hold.state == Hold.State.RELEASED:
            raise HoldError("already_released", _("Hold %(hold)s was already released at %(at)s.")
                            % {"hold": hold.number, "at": iso(hold.released_at) if hold.released_at else "?"})
        in_rework = list(hold.lots.filter(disposition=Disposition.REWORK).values_list("lot__code", flat=True)[:20])
        if in_rework:
            raise HoldError("rework_pending", _("Decide the lots in rework first: %(lots)s.")
                            % {"lots": ", ".join(in_rework)}, details={"lots": in_rework})
        held = hold.lots.select_for_update(of=("self",)).filter(disposition=Disposition.HELD)
        lot_ids = list(held.values_list("lot_id", flat=True))
        signature = _sign(user, password, meaning, record=hold, site_id=hold.site_id, content={
            "hold": hold.number, "release_all": len(lot_ids), "comment": comment})
        decided_at = timezone.now()
        held.update(disposition=Disposition.RELEASE, disposed_at=decided_at, disposed_by=user.get_username(),
                    signature=signature, comment=comment, version=F("version") + 1)
        if hold.window_start is not None and hold.window_end is None:
            hold.window_end = max(now or decided_at, hold.window_start)
        record_audit(action="release_hold", model=Hold._meta.label, object_pk=hold.pk, object_repr=hold.number,
                     site_id=hold.site_id, reason=_reason(signature.meaning, comment),
                     changes={"released_lots": [None, len(lot_ids)], "signature": [None, signature.pk]})
        _save_hold(hold, reason=_reason(signature.meaning, comment), releasing=True)
        _lots_changed(hold, lot_ids, "released")
    return hold


# --- reading -------------------------------------------------------------------------------------------------------


def describe_scope(hold: Hold) -> dict:
    scope = {"propagate_forward": hold.propagate_forward}
    if hold.equipment_id is not None:
        scope.update(equipment=hold.equipment.code, window_start=iso(hold.window_start),
                     window_end=iso(hold.window_end) if hold.window_end else None)
    return scope


def hold_state(hold: Hold, *, releasing: bool = False) -> str:
    """The state the hold's lots (and its window) put it in. A hold becomes released when nothing is held or in
    rework any more and its window is closed (an open window still collects lots), or when it is released as a
    whole (`releasing`, which also covers a hold that never had a lot)."""
    counts = dict(hold.lots.values_list("disposition").annotate(n=Count("pk")).order_by())
    undecided = counts.get(Disposition.HELD, 0)
    decided = sum(counts.values()) - undecided
    window_open = hold.window_start is not None and hold.window_end is None
    if not undecided and not counts.get(Disposition.REWORK) and not window_open and (decided or releasing):
        return Hold.State.RELEASED
    return Hold.State.PARTIALLY_RELEASED if decided else Hold.State.ACTIVE


# --- internals -----------------------------------------------------------------------------------------------------


def _check_reason(reason) -> str:
    reason = str(reason or "").strip()
    if not reason:
        raise HoldError("reason_required", _("State the reason for the hold."), field="reason")
    if len(reason) > REASON_MAX:
        raise HoldError("reason_too_long", _("The reason may have at most %(max)d characters.") % {"max": REASON_MAX},
                        field="reason")
    return reason


def _check_comment(comment) -> str:
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise HoldError("comment_too_long", _("The comment may have at most %(max)d characters.")
                        % {"max": COMMENT_MAX}, field="comment")
    return comment


def _lot_codes(lots) -> list[str | Lot]:
    if isinstance(lots, str):
        lots = [lots]
    return list(dict.fromkeys(lot.strip() if isinstance(lot, str) else lot for lot in lots or ()
                              if not (isinstance(lot, str) and not lot.strip())))


def _check_instant(field: str, value: datetime, now: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise HoldError("window_naive", _("The time %(value)s has no time zone.") % {"value": value.isoformat()},
                        field=field)
    if (value - now).total_seconds() > FUTURE_TOLERANCE_S:
        raise HoldError("window_in_future", _("The time %(value)s lies in the future (server time %(now)s); leave "
                                              "the end empty for an open window.")
                        % {"value": iso(value), "now": iso(now)}, field=field)


def _check_scope(site, codes, equipment, window_start, window_end, now) -> None:
    if equipment is None and (window_start is not None or window_end is not None):
        raise HoldError("window_without_equipment", _("A time window needs the equipment it applies to."),
                        field="equipment")
    if not codes and equipment is None:
        raise HoldError("empty_scope", _("Name the lots to hold, or an equipment and a time window."), field="lots")
    if equipment is None:
        return
    if equipment.site_id != site.pk:
        raise HoldError("equipment_other_site", _("Equipment %(equipment)s belongs to another site than %(site)s.")
                        % {"equipment": equipment.code, "site": site.code}, field="equipment")
    if window_start is None:
        raise HoldError("window_start_required", _("A hold on equipment %(equipment)s needs the window start.")
                        % {"equipment": equipment.code}, field="window_start")
    _check_instant("window_start", window_start, now)
    if window_end is not None:
        _check_instant("window_end", window_end, now)
        if window_end < window_start:
            raise HoldError("window_end_before_start", _("The window ends (%(end)s) before it starts (%(start)s).")
                            % {"end": iso(window_end), "start": iso(window_start)}, field="window_end")


def _resolve_lots(site: Site, codes: Sequence[str | Lot]) -> dict[str, Lot]:
    found = {lot.code: lot for lot in codes if isinstance(lot, Lot)}
    foreign = [code for code, lot in found.items() if lot.site_id != site.pk]
    if foreign:
        raise HoldError("lot_other_site", _("Lot(s) of another site than %(site)s: %(codes)s.")
                        % {"site": site.code, "codes": ", ".join(foreign)}, field="lots", details={"lots": foreign})
    names = [code for code in codes if isinstance(code, str)]
    found.update((lot.code, lot) for lot in Lot.objects.filter(site=site, code__in=names))
    unknown = [code for code in names if code not in found]
    if unknown:
        raise HoldError("unknown_lot", _("Unknown lot(s) in site %(site)s: %(codes)s.")
                        % {"site": site.code, "codes": ", ".join(unknown)}, field="lots", details={"lots": unknown})
    return found


def _next_number(site: Site) -> str:
    prefix = f"H-{site.code}-"
    last = (Hold.objects.filter(site=site, number__startswith=prefix).order_by(Length("number").desc(), "-number")
            .values_list("number", flat=True).first())
    sequence = int(last.removeprefix(prefix)) + 1 if last else 1
    return f"{prefix}{sequence:06d}"


def _create_numbered(site: Site, **fields) -> Hold:
    """Create the hold under the next free number. Two holds placed at once compute the same number; the unique
    (site, number) index makes the later INSERT wait for the first transaction and fail, and it retries with the
    number after (a savepoint keeps the outer transaction usable)."""
    for attempt in range(NUMBER_ATTEMPTS):
        hold = Hold(site=site, number=_next_number(site), **fields)
        hold._change_reason = fields["reason"]
        try:
            with transaction.atomic():
                hold.save()
            return hold
        except IntegrityError:
            if attempt == NUMBER_ATTEMPTS - 1 or Hold.objects.filter(site=site, number=hold.number).count() == 0:
                raise
    raise AssertionError("unreachable")


def _materialise(hold: Hold, seeds, *, direct_ids: set[int], via: str, new_hold: bool = False) -> list[int]:
    """Insert the HoldLot rows of `seeds` (a Lot queryset) and, when the hold propagates, of everything made from
    them. Lots already under this hold are left as they are (`new_hold`: the hold was created in this transaction
    and has none, so the insert needs no conflict check). Returns the ids of the lots added."""
    max_depth = DEFAULT_MAX_DEPTH if hold.propagate_forward else 0
    if connection.vendor == "postgresql":
        return _insert_traced_postgres(hold, seeds, max_depth, direct_ids=direct_ids, via=via, new_hold=new_hold)
    depths = trace_forward(seeds, max_depth=max_depth)
    if not depths:
        return []
    lot_ids = list(depths)
    vias = [HoldLot.Via.DIRECT if pk in direct_ids else via if depths[pk] == 0 else HoldLot.Via.GENEALOGY
            for pk in lot_ids]
    levels = [depths[pk] for pk in lot_ids]
    existing = set() if new_hold else set(hold.lots.values_list("lot_id", flat=True))
    rows = [HoldLot(hold=hold, lot_id=pk, via=v, depth=d) for pk, v, d in zip(lot_ids, vias, levels, strict=True)
            if pk not in existing]
    HoldLot.objects.bulk_create(rows, batch_size=2000)
    return [row.lot_id for row in rows]


def _insert_traced_postgres(hold: Hold, seeds, max_depth: int, *, direct_ids: set[int], via: str,
                            new_hold: bool) -> list[int]:
    """One statement: the forward trace as a CTE feeding the INSERT — the traced lots never travel to Python and
    back. Returns the ids of the lots added (those already under this hold are left as they are). `traced` has one
    row per lot, so a new hold's insert cannot conflict: it skips ON CONFLICT's per-row speculative insertion."""
    with_clause, params = trace_sql(seeds, FORWARD, max_depth)
    on_conflict = "" if new_hold else "ON CONFLICT (hold_id, lot_id) DO NOTHING"
    sql = f"""
        {with_clause}
        INSERT INTO {HoldLot._meta.db_table} (hold_id, lot_id, via, depth, disposition, disposed_by, comment, version)
        SELECT %s, lot_id, CASE WHEN lot_id = ANY(%s::bigint[]) THEN %s WHEN depth = 0 THEN %s ELSE %s END, depth,
               %s, '', '', 1
        FROM traced
        {on_conflict}
        RETURNING lot_id, depth
    """
    with connection.cursor() as cursor:
        no_jit(cursor)
        cursor.execute(sql, [*params, hold.pk, sorted(direct_ids), HoldLot.Via.DIRECT, via, HoldLot.Via.GENEALOGY,
                             Disposition.HELD])
        rows = cursor.fetchall()
    warn_if_max_depth((depth for _lot_id, depth in rows), FORWARD, max_depth)
    return [lot_id for lot_id, _depth in rows]


def _locked_hold(hold_id: int) -> Hold:
    hold = (Hold.objects.select_for_update(of=("self",), no_key=True).select_related("site", "equipment")
            .filter(pk=hold_id).first())
    if hold is None:
        raise HoldError("not_found", _("Hold %(id)s does not exist.") % {"id": hold_id})
    return hold


def _save_hold(hold: Hold, *, reason: str, releasing: bool = False) -> None:
    """Bump the version, recompute the state and save (simple-history mirrors it into the audit chain)."""
    state = hold_state(hold, releasing=releasing)
    if state == Hold.State.RELEASED and hold.state != Hold.State.RELEASED:
        hold.released_at = timezone.now()
    hold.state = state
    hold.version += 1
    hold._change_reason = reason
    hold.save()


def _check_signer(user) -> None:
    if user is None or getattr(user, "pk", None) is None or not getattr(user, "is_authenticated", False):
        raise HoldError("signature_needs_person", _("A decision on held lots is e-signed by a signed-in person; "
                                                    "machine tokens cannot sign."))
    if not user.has_perm(RELEASE_PERMISSION):
        raise HoldError("not_permitted", _("Your role may not decide on held lots (quality engineers may)."))


def _check_member(user, hold: Hold) -> None:
    if hold.site_id not in allowed_site_ids(user):
        raise HoldError("not_found", _("Hold %(id)s does not exist.") % {"id": hold.pk})


def _sign(user, password, meaning, *, record, site_id, content):
    try:
        return sign(user, password, meaning=meaning, record=record, content=content, site_id=site_id)
    except SignatureError as exc:
        field = {"signature_password": "password", "signature_meaning": "meaning"}.get(exc.code)
        raise HoldError(exc.code, exc.message, field=field) from None


def _check_mrb_authority(nc_disposition: NcDisposition, signature: ESignature) -> None:
    """The signature must be an MRB member's vote on this very disposition, and the disposition approved."""
    signs_it = (signature.record_model == NcDisposition._meta.label_lower
                and signature.record_pk == str(nc_disposition.pk))
    if not signs_it or not signature.user.has_perm(MRB_PERMISSION):
        raise HoldError("not_permitted", _("Held lots are decided by an MRB disposition only with the signature of "
                                           "a board member's vote on that disposition."))
    if nc_disposition.state != NcDisposition.State.APPROVED:
        raise HoldError("disposition_not_approved", _("Disposition %(id)s is %(state)s, not approved; it cannot "
                                                      "decide held lots.")
                        % {"id": nc_disposition.pk, "state": nc_disposition.get_state_display()})


def _apply_decision(hold: Hold, entry: HoldLot, disposition: str, signature: ESignature, comment: str, *,
                    authority: dict | None = None) -> None:
    """Record the decision on the locked entry (signed by `signature`), audit it, recompute the hold, tell the
    verdict cache and (after commit) the hold's listeners."""
    before = entry.disposition
    entry.disposition = disposition
    entry.disposed_at = signature.signed_at
    entry.disposed_by = signature.user.get_username()
    entry.signature = signature
    entry.comment = comment
    entry.version += 1
    entry.save(update_fields=["disposition", "disposed_at", "disposed_by", "signature", "comment", "version"])
    changes = {"disposition": [before, disposition], "signature": [None, signature.pk]}
    if authority:
        changes["authority"] = [None, authority]
    record_audit(action="dispose", model=HoldLot._meta.label, object_pk=entry.pk, site_id=hold.site_id,
                 object_repr=f"{hold.number}: {entry.lot.code}", reason=_reason(signature.meaning, comment),
                 changes=changes)
    _save_hold(hold, reason=_("lot %(lot)s: %(disposition)s") % {"lot": entry.lot.code, "disposition": disposition})
    _lots_changed(hold, [entry.lot_id], "lot_disposed")


def _already_decided(hold: Hold, entry: HoldLot) -> HoldError:
    if entry.disposed_at is None:
        message = _("Lot %(lot)s of hold %(hold)s changed meanwhile; reload and decide again.")
    else:
        message = _("Lot %(lot)s of hold %(hold)s was already decided (%(disposition)s) by %(by)s at %(at)s.")
    return HoldError("already_decided", message % {
        "lot": entry.lot.code, "hold": hold.number, "disposition": entry.get_disposition_display(),
        "by": entry.disposed_by, "at": iso(entry.disposed_at) if entry.disposed_at else ""},
        details={"disposition": entry.disposition, "decided_by": entry.disposed_by,
                 "decided_at": iso(entry.disposed_at) if entry.disposed_at else None, "version": entry.version})


def _reason(meaning: str, comment: str) -> str:
    return f"{meaning} — {comment}" if comment else meaning


def _lots_changed(hold: Hold, lot_ids: list[int], event: str) -> None:
    if lot_ids:
        note_lots_changed(hold.site_id, lot_ids)
    _announce(hold, event)


def _announce(hold: Hold, event: str) -> None:
    transaction.on_commit(partial(_send_hold_changed, hold.pk, hold.site_id, event))


def _send_hold_changed(hold_id: int, site_id: int, event: str) -> None:
    for receiver, outcome in hold_changed.send_robust(sender=Hold, hold_id=hold_id, site_id=site_id, event=event):
        if isinstance(outcome, Exception):
            logger.error("hold_changed receiver %r failed for hold %s (%s)", receiver, hold_id, event,
                         exc_info=outcome)
