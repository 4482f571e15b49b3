"""The data dictionary: create, change, retire and delete characteristics — validated, versioned, audited.

Every path (REST API, web UI, file import) checks a characteristic the same way, in `validate_change`:
- values are coerced from JSON or text (CSV cells) with a message per field naming what is wrong;
- the code follows the site's naming rule and is unique within the site;
- the model's rules hold (physical_min ≤ LSL ≤ nominal ≤ USL ≤ physical_max, subgroup size, precision);
- equipment and operation belong to the characteristic's site.
Each saved change bumps `version` and leaves a simple-history record whose reason flows into the audit chain.
Changing a judgement field (Characteristic.JUDGEMENT_FIELDS) of an entry that is no longer a draft needs a reason.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qms.audit.chain import audit_batch
from qms.audit.context import ACTOR_LABEL_MAX, current_actor
from qms.audit.receivers import field_values, record_model_change
from qms.bulk_sql import insert_history, insert_rows, update_rows
from qms.models import Characteristic, Equipment, Operation, Site
from qms.services.plant import InUseError, blocking_references

TEXT_FIELDS = ("code", "name_en", "name_zh", "unit")
CHOICE_FIELDS = {
    "data_type": Characteristic.DataType,
    "precision_policy": Characteristic.PrecisionPolicy,
    "criticality": Characteristic.Criticality,
    "status": Characteristic.Status,
}
# TextChoices.values rebuilds its list on every access: a 10,000-row import reads it 40,000 times.
_CHOICE_VALUES = {choices: frozenset(choices.values) for choices in CHOICE_FIELDS.values()}
INTEGER_FIELDS = ("precision", "subgroup_size")
FLOAT_FIELDS = Characteristic.NUMERIC_FIELDS
REFERENCE_FIELDS = ("equipment", "operation")
EDITABLE_FIELDS = (
    "code", "name_en", "name_zh", "unit", "data_type", "precision", "precision_policy",
    "physical_min", "physical_max", "nominal", "lsl", "usl", "update_period_s", "subgroup_size", "criticality",
    "equipment", "operation", "status",
)


class VersionConflict(ValidationError):
    """Somebody else saved the entry since the caller read it (the API answers 409)."""


class NotProvided:
    """Marks an empty value for a field that cannot be empty: keep the current value (or the default)."""


NOT_PROVIDED = NotProvided()
_BULK_BATCH_SIZE = 1000  # rows per multi-row INSERT/UPDATE of an import


# --- coercion: JSON values or CSV text → typed values ---------------------------------------------------------------

def _is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _coerce_text(value):
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(_("Must be text."))
    return value.strip()


def _coerce_choice(value, choices):
    if _is_blank(value):
        return NOT_PROVIDED
    if not isinstance(value, str):
        raise ValueError(_("Must be one of: %(choices)s.") % {"choices": ", ".join(choices.values)})
    normalised = value.strip().lower()
    if normalised not in _CHOICE_VALUES[choices]:
        raise ValueError(_("“%(value)s” is not one of: %(choices)s.") % {
            "value": value, "choices": ", ".join(choices.values)})
    return normalised


def _coerce_integer(value):
    if _is_blank(value):
        return NOT_PROVIDED
    if isinstance(value, bool):
        raise ValueError(_("Must be a whole number, not true/false."))
    number = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError(_("“%(value)s” is not a whole number.") % {"value": value}) from None
    if not isinstance(number, int | float) or not math.isfinite(number) or not float(number).is_integer():
        raise ValueError(_("“%(value)s” is not a whole number.") % {"value": value})
    if number < 0:
        raise ValueError(_("Must not be negative."))
    return int(number)


def _coerce_float(value):
    if _is_blank(value):
        return None
    if isinstance(value, bool):
        raise ValueError(_("Must be a number, not true/false."))
    number = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError(_("“%(value)s” is not a number (use a dot as decimal separator).") % {
                "value": value}) from None
    if not isinstance(number, int | float):
        raise ValueError(_("Must be a number."))
    number = float(number)
    if not math.isfinite(number):
        raise ValueError(_("Must be a finite number."))
    return number


class SiteReferences:
    """Resolves equipment and operations named in dictionary data, only ever within one site.

    Accepts a model instance, a primary key, or the textual reference files use: the equipment code, and
    "part number/revision/operation code" for an operation. Loaded once per instance (a site has hundreds of
    machines, not millions), so a 10,000-row import costs two queries here.
    """

    def __init__(self, site: Site):
        self.site = site
        self._equipment: dict[str, Equipment] | None = None
        self._operations: dict[str, Operation] | None = None

    def _load(self):
        if self._equipment is None:
            self._equipment = {e.code: e for e in Equipment.objects.filter(site=self.site)}
            self._operations = {
                op.reference: op for op in Operation.objects.filter(product__site=self.site).select_related("product")
            }

    def equipment(self, ref) -> Equipment:
        self._load()
        found = self._lookup(ref, self._equipment, Equipment)
        if found is None:
            raise ValueError(_("No equipment “%(ref)s” in site %(site)s.") % {"ref": ref, "site": self.site.code})
        return found

    def operation(self, ref) -> Operation:
        self._load()
        found = self._lookup(ref, self._operations, Operation)
        if found is None:
            raise ValueError(_(
                "No operation “%(ref)s” in site %(site)s (name it as part number/revision/operation code)."
            ) % {"ref": ref, "site": self.site.code})
        return found

    @staticmethod
    def _lookup(ref, by_text: dict, model):
        if isinstance(ref, model):
            return next((obj for obj in by_text.values() if obj.pk == ref.pk), None)
        if isinstance(ref, int) and not isinstance(ref, bool):
            return next((obj for obj in by_text.values() if obj.pk == ref), None)
        if isinstance(ref, str):
            return by_text.get(ref.strip())
        return None


def coerce_values(data: dict, refs: SiteReferences) -> tuple[dict, dict[str, list[str]]]:
    """Typed values for the editable fields in `data`, and a message per field that could not be read."""
    values: dict = {}
    errors: dict[str, list[str]] = {}
    for name, raw in data.items():
        try:
            if name in TEXT_FIELDS:
                value = _coerce_text(raw)
            elif name in CHOICE_FIELDS:
                value = _coerce_choice(raw, CHOICE_FIELDS[name])
            elif name in INTEGER_FIELDS:
                value = _coerce_integer(raw)
            elif name in FLOAT_FIELDS:
                value = _coerce_float(raw)
            elif name == "equipment":
                value = None if _is_blank(raw) else refs.equipment(raw)
            elif name == "operation":
                value = None if _is_blank(raw) else refs.operation(raw)
            else:
                raise ValueError(_("Unknown field."))
        except ValueError as exc:
            errors[name] = [str(exc)]
            continue
        if value is not NOT_PROVIDED:
            values[name] = value
    return values, errors


# --- one validated change ---------------------------------------------------------------------------------------

def display_value(instance: Characteristic, name: str):
    """A field's value as files and diffs show it: equipment by code, operation by its reference."""
    if name == "equipment":
        return instance.equipment.code if instance.equipment_id else None
    if name == "operation":
        return instance.operation.reference if instance.operation_id else None
    return getattr(instance, name)


@dataclass
class ValidatedChange:
    """The outcome of checking a create or update without writing it."""

    instance: Characteristic
    previous_status: str | None
    errors: dict[str, list[str]] = field(default_factory=dict)
    changes: dict[str, list] = field(default_factory=dict)
    original: Characteristic | None = None  # the entry as stored, untouched (updates only)

    @property
    def is_new(self) -> bool:
        return self.previous_status is None

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def reason_required(self) -> bool:
        """Judgement fields change on an entry that has been released (released or retired, not a draft)."""
        if self.previous_status in (None, Characteristic.Status.DRAFT):
            return False
        return any(name in Characteristic.JUDGEMENT_FIELDS for name in self.changes)


def validate_change(site: Site, data: dict, *, instance: Characteristic | None = None,
                    refs: SiteReferences | None = None, code_taken=None) -> ValidatedChange:
    """Check `data` as a new entry of `site` (instance None) or as a change of `instance`; write nothing.

    `code_taken(code) -> bool` answers whether another entry of the site has the code (default: ask the database).
    """
    refs = refs or SiteReferences(site)
    is_new = instance is None
    candidate = Characteristic(site=site) if is_new else copy.copy(instance)
    before = {name: display_value(candidate, name) for name in EDITABLE_FIELDS}
    values, errors = coerce_values(data, refs)
    for name, value in values.items():
        setattr(candidate, name, value)
    change = ValidatedChange(
        instance=candidate, previous_status=None if is_new else instance.status, errors=errors, original=instance
    )
    _check(change, site, code_taken)
    if not is_new:
        after = {name: display_value(candidate, name) for name in EDITABLE_FIELDS}
        change.changes = {name: [before[name], after[name]] for name in EDITABLE_FIELDS if before[name] != after[name]}
    return change


def _add(errors: dict, name: str, message: str) -> None:
    errors.setdefault(name, []).append(str(message))


def _check(change: ValidatedChange, site: Site, code_taken) -> None:
    candidate, errors = change.instance, change.errors
    if candidate.code and "code" not in errors and not site.follows_naming_rule(candidate.code):
        _add(errors, "code", _("“%(code)s” does not follow the naming rule of site %(site)s: %(rule)s") % {
            "code": candidate.code, "site": site.code, "rule": site.naming_rule})
    if change.is_new and candidate.status == Characteristic.Status.RETIRED:
        _add(errors, "status", _("A new entry cannot be retired."))
    try:
        candidate.clean_fields(exclude=["site", "equipment", "operation", *errors])
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            for message in messages:
                _add(errors, name, message)
    # clean() compares the numbers: run it whenever they could all be read, so a file shows every problem at once.
    if not set(errors) & {*FLOAT_FIELDS, *INTEGER_FIELDS}:
        try:
            candidate.clean()
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                for message in messages:
                    _add(errors, name, message)
    if candidate.code and "code" not in errors:
        taken = code_taken(candidate.code) if code_taken else (
            Characteristic.objects.filter(site=site, code=candidate.code).exclude(pk=candidate.pk).exists()
        )
        if taken:
            _add(errors, "code", _("Site %(site)s already has a characteristic “%(code)s”.") % {
                "site": site.code, "code": candidate.code})


def save_change(change: ValidatedChange, *, reason: str = "", savepoint: bool = True) -> Characteristic:
    """Write a validated change: new entries start at version 1, every update bumps the version.

    Call inside a transaction that holds the row lock (updates). Raises ValidationError if the change is invalid or
    needs a reason that is missing. With `savepoint=False` (bulk callers that roll back everything on any error) a
    racing duplicate code raises IntegrityError instead of a field error, and two queries per row are saved.
    """
    reason = (reason or "").strip()
    _prepare_save(change, reason)
    instance = change.instance
    if not savepoint:
        instance.save()
        return instance
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError:
        if Characteristic.objects.filter(site_id=instance.site_id, code=instance.code).exclude(pk=instance.pk).exists():
            raise ValidationError({"code": _("Site %(site)s already has a characteristic “%(code)s”.") % {
                "site": instance.site.code, "code": instance.code}}) from None
        raise
    return instance


def _prepare_save(change: ValidatedChange, reason: str) -> None:
    """Refuse an invalid change or one missing its reason; otherwise set the version and the history reason."""
    if not change.ok:
        raise ValidationError(change.errors)
    if change.reason_required and not reason:
        raise ValidationError({"reason": _(
            "A reason is required to change %(fields)s of a released characteristic."
        ) % {"fields": ", ".join(name for name in change.changes if name in Characteristic.JUDGEMENT_FIELDS)}})
    instance = change.instance
    instance.version = 1 if change.is_new else instance.version + 1
    instance._change_reason = reason


def save_changes(changes: list[ValidatedChange], *, reason: str = "") -> list[Characteristic]:
    """Write many validated changes at once (file import): the same outcome as `save_change` for each, in bulk.

    New entries are inserted and changed ones updated with a few multi-row statements; each still gets its version,
    its simple-history record (reason and actor) and its own audit entry (before → after), appended to the chain in
    the order of `changes` with one head lock. Call inside a transaction holding the row locks of the updated
    entries. All or nothing: a racing duplicate code raises IntegrityError, an invalid change ValidationError.
    """
    reason = (reason or "").strip()
    for change in changes:
        _prepare_save(change, reason)
    created = [change.instance for change in changes if change.is_new]
    updated = [change for change in changes if not change.is_new]
    actor_stamp = {"history_actor": current_actor().label[:ACTOR_LABEL_MAX]}
    with audit_batch():
        if created:
            insert_rows(created, batch_size=_BULK_BATCH_SIZE)
            insert_history(created, "+", reason=reason, extra=actor_stamp, batch_size=_BULK_BATCH_SIZE)
        if updated:
            now = timezone.now()
            for change in updated:
                change.instance.updated_at = now
            fields = sorted({name for change in updated for name in change.changes} | {"version", "updated_at"})
            instances = [change.instance for change in updated]
            update_rows(instances, fields, batch_size=_BULK_BATCH_SIZE)
            insert_history(instances, "~", reason=reason, extra=actor_stamp, batch_size=_BULK_BATCH_SIZE)
        # Bulk writes send no simple-history signals, so the audit entries the receiver would add are added here.
        for change in changes:
            instance = change.instance
            record_model_change(
                "create" if change.is_new else "update", instance,
                after=field_values(instance, Characteristic),
                before=None if change.is_new else field_values(change.original, Characteristic),
                reason=reason,
            )
    return [change.instance for change in changes]


# --- the service functions --------------------------------------------------------------------------------------

@transaction.atomic
def create_characteristic(site, data: dict, *, reason: str = "") -> Characteristic:
    """Create a data-dictionary entry of `site`. `data` holds editable fields (see EDITABLE_FIELDS); equipment
    and operation may be instances, ids or codes ("part number/revision/operation code" for an operation)."""
    change = validate_change(site, data)
    return save_change(change, reason=reason)


@transaction.atomic
def update_characteristic(characteristic_id: int, data: dict, *, reason: str = "",
                          expected_version: int | None = None) -> Characteristic:
    """Change an entry. With `expected_version`, refuse (VersionConflict) if someone saved it in between.

    A change that alters nothing keeps the version and writes no history.
    """
    instance = _locked(characteristic_id)
    if expected_version is not None and instance.version != expected_version:
        raise VersionConflict({"version": _(
            "%(code)s was changed by someone else: you edited version %(expected)s, it is now at version "
            "%(current)s. Reload it and apply your change again."
        ) % {"code": instance.code, "expected": expected_version, "current": instance.version}})
    change = validate_change(instance.site, data, instance=instance)
    if change.ok and not change.changes:
        return instance
    return save_change(change, reason=reason)


@transaction.atomic
def retire_characteristic(characteristic_id: int, *, reason: str) -> Characteristic:
    """Take an entry out of use: ingestion stops accepting its readings; its history and data stay."""
    instance = _locked(characteristic_id)
    if instance.status == Characteristic.Status.RETIRED:
        raise ValidationError({"status": _("%(code)s is already retired.") % {"code": instance.code}})
    if not (reason or "").strip():
        raise ValidationError({"reason": _("A reason is required to retire a characteristic.")})
    change = validate_change(instance.site, {"status": Characteristic.Status.RETIRED}, instance=instance)
    return save_change(change, reason=reason)


@transaction.atomic
def delete_characteristic(characteristic_id: int, *, reason: str = "") -> None:
    """Delete an entry that has no data (typos, drafts). Entries with measurements must be retired instead."""
    instance = _locked(characteristic_id)
    referrers = blocking_references(instance)
    if referrers:
        raise InUseError(instance, referrers, hint=_("Retire it instead."))
    reason = (reason or "").strip()
    if instance.status != Characteristic.Status.DRAFT and not reason:
        raise ValidationError({"reason": _("A reason is required to delete a released characteristic.")})
    instance._change_reason = reason
    instance.delete()


def _locked(characteristic_id: int) -> Characteristic:
    try:
        return Characteristic.objects.select_for_update(of=("self",)).select_related("site").get(pk=characteristic_id)
    except Characteristic.DoesNotExist:
        raise ValidationError({"characteristic": _("No characteristic with id %(id)s.") % {
            "id": characteristic_id}}) from None
