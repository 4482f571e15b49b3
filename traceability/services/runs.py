"""Lot runs: which lot ran on which machine when — the basis for freezing "everything IMM02 made between t1 and t2".

Rules (what an MES integration can rely on):
- A machine runs one lot at a time. A run that would overlap another run on the same machine is refused (Conflict)
  unless the client says `close_previous=True`, which ends the machine's open run(s) that started earlier at the new
  run's start. Runs meet back to back: a run ending at 10:00 and the next starting at 10:00 do not overlap.
- A run registered with `concurrent=True` (family moulds: two lots from one shot) skips that check; it is marked
  on the run so the machine's history says why two lots overlapped.
- Starting the same (lot, machine, start) again is idempotent; ending a run again at the same time is idempotent;
  ending it at another time is a Conflict (a correction of the record, not a retry).
- Every run change locks the machine's Equipment row, so two requests starting lots on one machine serialise.
"""
from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from qms.models import Equipment
from traceability.models import Lot, LotRun
from traceability.services.errors import Conflict
from traceability.services.lookup import check_aware, check_timestamp, iso


def _equipment_id(equipment: Equipment | int) -> int:
    return equipment.pk if isinstance(equipment, Equipment) else int(equipment)


def lock_equipment(equipment: Equipment | int) -> None:
    """Row-lock the equipment alone until the transaction ends. `of=self` and no ordering: Equipment's default
    ordering joins the site, and FOR UPDATE without `of` would lock the site row too — serialising every writer of
    the site and blocking the key-share locks of rows that reference it."""
    list(Equipment.objects.select_for_update(of=("self",), no_key=True).filter(pk=_equipment_id(equipment)).order_by()
         .values_list("pk", flat=True))


def describe_run(run: LotRun) -> dict:
    return {
        "id": run.pk,
        "lot": run.lot.code,
        "equipment": run.equipment.code,
        "started_at": iso(run.started_at),
        "ended_at": iso(run.ended_at) if run.ended_at else None,
    }


def runs_between(start: datetime, end: datetime | None = None, *, now: datetime | None = None) -> QuerySet[LotRun]:
    """Runs (on any machine) that overlap the window [start, end]; end None means open-ended.

    Both window ends are inclusive and a run touching the window at one instant counts: a hold errs on the side of
    freezing. An open run counts as running from its start until now.
    """
    if start is None:
        raise ValidationError({"start": _("The window needs a start.")})
    check_aware("start", start)
    check_aware("end", end)
    if end is not None and end < start:
        raise ValidationError({"end": _("The window ends (%(end)s) before it starts (%(start)s).")
                               % {"end": iso(end), "start": iso(start)}})
    now = now or timezone.now()
    touches_window = Q(ended_at__gte=start)
    if start <= now:
        touches_window |= Q(ended_at__isnull=True)
    runs = LotRun.objects.filter(touches_window)
    if end is not None:
        runs = runs.filter(started_at__lte=end)
    return runs


def runs_on_equipment_between(equipment: Equipment | int, start: datetime, end: datetime | None = None, *,
                              now: datetime | None = None) -> QuerySet[LotRun]:
    """Runs on `equipment` that overlap [start, end] (see runs_between). Served by the (equipment, ended_at,
    started_at) index: ended_at >= start is a range over the machine's recent runs, ended_at IS NULL its open ones."""
    return runs_between(start, end, now=now).filter(equipment_id=_equipment_id(equipment))


def lots_on_equipment_between(equipment: Equipment | int, start: datetime, end: datetime | None = None, *,
                              now: datetime | None = None) -> QuerySet[Lot]:
    """Lots with a run on `equipment` overlapping [start, end] (see runs_on_equipment_between). One query, no
    duplicates (a semi-join, not a DISTINCT over runs); pass it straight to trace_forward() to add everything made
    from these lots in the same SQL statement."""
    runs = runs_on_equipment_between(equipment, start, end, now=now)
    return Lot.objects.filter(pk__in=runs.values("lot_id"))


def _overlapping_runs(equipment_id: int, start: datetime, end: datetime | None) -> QuerySet[LotRun]:
    """Runs on the machine whose half-open interval [started_at, ended_at) overlaps [start, end)."""
    runs = LotRun.objects.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=start), equipment_id=equipment_id)
    if end is not None:
        runs = runs.filter(started_at__lt=end)
    return runs.select_related("lot", "equipment").order_by("started_at")


def _check_times(started_at: datetime, ended_at: datetime | None) -> None:
    check_timestamp("started_at", started_at)
    check_timestamp("ended_at", ended_at)
    if ended_at is not None and ended_at < started_at:
        raise ValidationError({"ended_at": _("The end (%(end)s) lies before the start (%(start)s).")
                               % {"end": iso(ended_at), "start": iso(started_at)}})


@transaction.atomic
def start_lot_run(lot: Lot, equipment: Equipment, started_at: datetime, *, ended_at: datetime | None = None,
                  close_previous: bool = False, concurrent: bool = False) -> tuple[LotRun, bool]:
    """Record that `lot` ran (or runs, while `ended_at` is None) on `equipment` from `started_at`.

    Returns (run, created). Re-sending a known (lot, equipment, started_at) returns the stored run; if it is open
    and `ended_at` is given, it is closed. Raises Conflict for overlaps (see module doc) and for a different end.
    """
    if started_at is None:
        raise ValidationError({"started_at": _("A run needs a start.")})
    if equipment.site_id != lot.site_id:
        raise ValidationError({"equipment": _("Equipment %(equipment)s belongs to another site than lot %(lot)s.")
                               % {"equipment": equipment.code, "lot": lot.code}})
    _check_times(started_at, ended_at)
    from traceability.services.holds import hold_lots_of_new_run, lock_holds_for_run  # holds imports this module

    lock_equipment(equipment)
    holds = lock_holds_for_run(equipment.pk, started_at, ended_at)  # before any audited change (see there)
    existing = (
        LotRun.objects.select_for_update(of=("self",)).select_related("lot", "equipment")
        .filter(lot=lot, equipment=equipment, started_at=started_at).first()
    )
    if existing is not None:
        if ended_at is None or existing.ended_at == ended_at:
            return existing, False
        return end_lot_run(existing, ended_at)[0], False
    if not concurrent:
        overlapping = list(_overlapping_runs(equipment.pk, started_at, ended_at))
        closable = [run for run in overlapping if close_previous and run.ended_at is None and run.started_at < started_at]
        blocking = [run for run in overlapping if run not in closable]
        if blocking:
            raise Conflict(_overlap_message(equipment, blocking), {"overlapping_runs": [describe_run(r) for r in blocking]})
        for run in closable:
            run.ended_at = started_at
            run._change_reason = _("closed because lot %(lot)s started on %(equipment)s") % {
                "lot": lot.code, "equipment": equipment.code}
            run.save(update_fields=["ended_at"])
    run = LotRun(lot=lot, equipment=equipment, started_at=started_at, ended_at=ended_at, concurrent=concurrent)
    run.save()
    # A lot starting inside an open hold window joins that hold in this transaction (equipment row still locked).
    hold_lots_of_new_run(run, holds)
    return run, True


def _overlap_message(equipment: Equipment, blocking: list[LotRun]) -> str:
    first = blocking[0]
    if first.ended_at is None:
        return _(
            "%(equipment)s is running lot %(lot)s since %(since)s. Send close_previous: true to end that run at the new "
            "start, or concurrent: true if both lots really run together."
        ) % {"equipment": equipment.code, "lot": first.lot.code, "since": iso(first.started_at)}
    return _("The run overlaps lot %(lot)s on %(equipment)s (%(start)s – %(end)s).") % {
        "equipment": equipment.code, "lot": first.lot.code,
        "start": iso(first.started_at), "end": iso(first.ended_at),
    }


@transaction.atomic
def end_lot_run(run: LotRun, ended_at: datetime) -> tuple[LotRun, bool]:
    """Close an open run at `ended_at`. Returns (run, changed); the same end again is a no-op, another is a Conflict."""
    if ended_at is None:
        raise ValidationError({"ended_at": _("This field is required.")})
    check_timestamp("ended_at", ended_at)
    lock_equipment(run.equipment_id)
    run = LotRun.objects.select_for_update(of=("self",)).select_related("lot", "equipment").get(pk=run.pk)
    if run.ended_at is not None:
        if run.ended_at == ended_at:
            return run, False
        raise Conflict(
            _("The run of %(lot)s on %(equipment)s already ended at %(end)s.")
            % {"lot": run.lot.code, "equipment": run.equipment.code, "end": iso(run.ended_at)},
            {"ended_at": {"stored": iso(run.ended_at), "sent": iso(ended_at)}},
        )
    _check_times(run.started_at, ended_at)
    if not run.concurrent:
        later = list(
            _overlapping_runs(run.equipment_id, run.started_at, ended_at)
            .filter(concurrent=False, started_at__gt=run.started_at).exclude(pk=run.pk)
        )
        if later:
            raise Conflict(_overlap_message(run.equipment, later), {"overlapping_runs": [describe_run(r) for r in later]})
    run.ended_at = ended_at
    run.save(update_fields=["ended_at"])
    return run, True


@transaction.atomic
def end_lot(lot: Lot, ended_at: datetime, *, equipment: Equipment | None = None) -> tuple[LotRun, bool]:
    """Close the lot's open run (on `equipment`, needed when the lot runs on several machines at once).

    A retry after success finds the run already ended at `ended_at` and returns it unchanged.
    """
    runs = LotRun.objects.select_related("lot", "equipment").filter(lot=lot)
    if equipment is not None:
        runs = runs.filter(equipment=equipment)
    open_runs = list(runs.filter(ended_at__isnull=True))
    if len(open_runs) == 1:
        return end_lot_run(open_runs[0], ended_at)
    if len(open_runs) > 1:
        machines = ", ".join(sorted(run.equipment.code for run in open_runs))
        raise ValidationError({"equipment": _("Lot %(lot)s runs on %(machines)s: name the equipment to end.")
                               % {"lot": lot.code, "machines": machines}})
    already = runs.filter(ended_at=ended_at).first()
    if already is not None:
        return already, False
    where = _(" on %(equipment)s") % {"equipment": equipment.code} if equipment is not None else ""
    raise Conflict(_("Lot %(lot)s has no open run%(where)s.") % {"lot": lot.code, "where": where},
                   {"open_runs": []})
