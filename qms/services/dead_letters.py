"""Resolving dead letters (rejected measurement items): replay them — corrected or as they were — or discard them.

Both are state changes of a quality record: one transaction, the row locked (two engineers may click at once),
the stored point announced after commit, and an audit entry saying who, what (payload before → after) and why.
"""
from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qms.audit.chain import record_audit
from qms.audit.context import actor_for_user, current_reason
from qms.auth.scoping import allowed_site_ids
from qms.ingest import storable, validate_items
from qms.models import DeadLetter
from qms.services.ingest import ingest_limits, load_dictionary, problem_message
from qms.services.measurement_store import store_accepted

CHANGE_PERMISSION = "qms.change_deadletter"


def _lock_open_letter(dead_letter_id: int, user) -> DeadLetter:
    letter = DeadLetter.objects.select_for_update().filter(pk=dead_letter_id).first()
    if letter is None or letter.site_id not in allowed_site_ids(user):
        # Same answer for "absent" and "another site's": existence of other sites' records is not disclosed.
        raise DeadLetter.DoesNotExist(_("No such dead letter."))
    if not user.has_perm(CHANGE_PERMISSION):
        raise PermissionDenied(_("Your role does not allow resolving dead letters."))
    if letter.status != DeadLetter.Status.OPEN:
        raise ValidationError(
            {"status": _("This dead letter is already %(status)s.") % {"status": letter.get_status_display()}},
            code="not_open",
        )
    return letter


def replay_dead_letter(dead_letter_id: int, *, user, corrected_payload: dict | None = None) -> dict:
    """Send the item (or `corrected_payload` in its place) through the same validation and store path as a live
    batch, under the original source so a point the client re-sent meanwhile is recognised as a duplicate.

    Returns {"dead_letter", "status", "outcome" ("stored" | "duplicate"), "measurement_id", "value", "rounded"}.
    Raises ValidationError naming the field when the item is still invalid (the letter stays open).
    """
    with transaction.atomic():
        letter = _lock_open_letter(dead_letter_id, user)
        payload = letter.payload if corrected_payload is None else corrected_payload
        now = timezone.now()
        characteristics, equipment = load_dictionary(letter.site_id, [payload])
        result = validate_items([payload], characteristics=characteristics, equipment=equipment, now=now,
                                limits=ingest_limits())
        if result.rejected:
            rejection = result.rejected[0]
            raise ValidationError({rejection.field or "payload": problem_message(rejection)}, code=str(rejection.code))
        stored = store_accepted(letter.site_id, result.accepted, source=letter.source, batch_id=None, received_at=now)
        measurement_id = next(iter(stored.ids_by_index.values()), None)
        outcome = "stored" if measurement_id is not None else "duplicate"

        letter.status = DeadLetter.Status.REPLAYED
        letter.resolved_by = user
        letter.resolved_at = now
        letter.resolution_note = (
            _("Replayed with a corrected payload.") if corrected_payload is not None else _("Replayed unchanged.")
        )
        if measurement_id is None:
            letter.resolution_note += " " + _("The point was already stored; nothing new was written.")
        letter.save(update_fields=["status", "resolved_by", "resolved_at", "resolution_note"])
        after = storable(payload)
        record_audit(
            action="transition", model="qms.DeadLetter", object_pk=letter.pk, object_repr=_describe(letter),
            site_id=letter.site_id, actor=actor_for_user(user),
            reason=current_reason() or letter.resolution_note,
            changes={
                "status": [DeadLetter.Status.OPEN, DeadLetter.Status.REPLAYED],
                "payload": [letter.payload, after],
                "measurement": [None, measurement_id],
            },
        )
    return {
        "dead_letter": letter.pk,
        "status": letter.status,
        "outcome": outcome,
        "measurement_id": measurement_id,
        "value": result.accepted[0].value,
        "rounded": bool(result.rounded),
    }


def discard_dead_letter(dead_letter_id: int, *, user, note: str) -> None:
    """Close the letter without storing anything. The note (why the item is not worth keeping) is mandatory."""
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": _("Say why the item is discarded.")}, code="required")
    with transaction.atomic():
        letter = _lock_open_letter(dead_letter_id, user)
        letter.status = DeadLetter.Status.DISCARDED
        letter.resolved_by = user
        letter.resolved_at = timezone.now()
        letter.resolution_note = note
        letter.save(update_fields=["status", "resolved_by", "resolved_at", "resolution_note"])
        record_audit(
            action="transition", model="qms.DeadLetter", object_pk=letter.pk, object_repr=_describe(letter),
            site_id=letter.site_id, actor=actor_for_user(user), reason=note,
            changes={"status": [DeadLetter.Status.OPEN, DeadLetter.Status.DISCARDED], "resolution_note": ["", note]},
        )


def _describe(letter: DeadLetter) -> str:
    return f"dead letter #{letter.pk} ({letter.code}, item {letter.index} of batch {letter.batch_id or '—'})"
