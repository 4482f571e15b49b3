"""Serial numbers: the serialised units of a lot. A serial names one unit, so within a site it belongs to one lot.

Recording is idempotent (the same serials on the same lot again change nothing) and all-or-nothing: one bad or
conflicting serial refuses the whole batch, naming it. The (site, serial) unique constraint settles races between
two lots claiming the same serial at once: the loser's batch rolls back with the same 409 as a sequential conflict.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from qms.audit.chain import record_audit
from qms.models import AuditEntry
from traceability.models import Lot, SerialNumber
from traceability.services.errors import Conflict

SERIAL_MAX_LENGTH = SerialNumber._meta.get_field("serial").max_length
SERIAL_BATCH_LIMIT = 1000


class TooManySerials(Exception):
    """A batch larger than SERIAL_BATCH_LIMIT (HTTP 413)."""

    def __init__(self, count: int, limit: int = SERIAL_BATCH_LIMIT):
        self.count, self.limit = count, limit
        self.message = _("%(count)s serial numbers in one request; send at most %(limit)s per request.") % {
            "count": count, "limit": limit}
        super().__init__(self.message)


@dataclass(frozen=True)
class SerialRecording:
    lot: Lot
    created: list[str]
    existing: list[str]


def check_serials(serials) -> list[str]:
    """The batch, each serial stripped; a ValidationError naming every bad index ("serials[3]": ...)."""
    if not isinstance(serials, list) or not serials:
        raise ValidationError({"serials": _("Send a non-empty list of serial numbers.")})
    if len(serials) > SERIAL_BATCH_LIMIT:
        raise TooManySerials(len(serials))
    cleaned, problems, first_index = [], {}, {}
    for index, value in enumerate(serials):
        key = f"serials[{index}]"
        if not isinstance(value, str) or not value.strip():
            problems[key] = _("A serial number must be a non-empty text.")
            continue
        value = value.strip()
        if len(value) > SERIAL_MAX_LENGTH:
            problems[key] = _("A serial number has at most %(n)s characters.") % {"n": SERIAL_MAX_LENGTH}
        elif any(char.isspace() or not char.isprintable() for char in value):
            problems[key] = _("A serial number contains no whitespace or control characters.")
        elif value in first_index:
            problems[key] = _("%(serial)s repeats serials[%(first)s] of this batch.") % {
                "serial": value, "first": first_index[value]}
        else:
            first_index[value] = index
        cleaned.append(value)
    if problems:
        raise ValidationError(problems)
    return cleaned


def _claimed_elsewhere(lot: Lot, serials: list[str]) -> dict[str, str]:
    return dict(SerialNumber.objects.filter(site_id=lot.site_id, serial__in=serials).exclude(lot=lot)
                .values_list("serial", "lot__code"))


def _refuse(lot: Lot, claimed: dict[str, str]) -> Conflict:
    other_lots = sorted(set(claimed.values()))
    return Conflict(
        _("%(count)s serial number(s) already belong to lot %(lots)s of this site, not to %(lot)s.")
        % {"count": len(claimed), "lots": ", ".join(other_lots), "lot": lot.code},
        {"serials": [{"serial": serial, "lot": code} for serial, code in sorted(claimed.items())]},
    )


def record_serials(lot: Lot, serials) -> SerialRecording:
    """Attach `serials` to `lot`: the new ones are created, the ones already on this lot left alone."""
    wanted = check_serials(serials)
    with transaction.atomic():
        claimed = _claimed_elsewhere(lot, wanted)
        if claimed:
            raise _refuse(lot, claimed)
        existing = set(SerialNumber.objects.filter(lot=lot, serial__in=wanted).values_list("serial", flat=True))
        new = [serial for serial in wanted if serial not in existing]
        if new:
            # A concurrent batch may have claimed some since the check: ignore_conflicts skips them, the
            # re-check below notices and rolls the whole batch back.
            SerialNumber.objects.bulk_create(
                [SerialNumber(site_id=lot.site_id, lot=lot, serial=serial) for serial in new], ignore_conflicts=True)
            claimed = _claimed_elsewhere(lot, new)
            if claimed:
                raise _refuse(lot, claimed)
            # One entry per batch (not per serial): the record is the lot's set of serials.
            record_audit(action=AuditEntry.Action.CREATE, model="traceability.serialnumber", object_pk=lot.pk,
                         object_repr=lot.code, site_id=lot.site_id, changes={"serials": [None, new]})
    return SerialRecording(lot=lot, created=new, existing=[serial for serial in wanted if serial in existing])


def lots_of_serial(serial: str, site_ids) -> list[SerialNumber]:
    """The serial's entries in the given sites (at most one per site), with their lots."""
    return list(SerialNumber.objects.filter(serial=serial, site_id__in=site_ids)
                .select_related("lot", "lot__site").order_by("site__code"))
