"""Measurement ingestion: validate a batch against the data dictionary, store it once, dead-letter the rejects.

`ingest_measurements` is the one entry point (the REST view, connectors' ingest task and the benchmark all go
through it). One transaction per batch holds the IngestBatch row, the new measurements and the dead letters, so a
batch is either recorded whole — with its response — or not at all.

Idempotency: with a key, the IngestBatch row (unique per client + key) is inserted first inside the transaction;
a concurrent request with the same key blocks on that unique index until the first commits, then replays its
stored response. Without a key, (characteristic, ts, source) uniqueness still makes a retried batch harmless.
"""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

import orjson
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from qms.bulk_sql import AnyOf
from qms.ingest import CharacteristicSpec, Limits, Problem, Rejection, storable, validate_items
from qms.models import Characteristic, DeadLetter, Equipment, IngestBatch, Measurement
from qms.services.measurement_store import store_accepted

MAX_IDEMPOTENCY_KEY_LENGTH = IngestBatch._meta.get_field("idempotency_key").max_length
_CODE_LENGTH = Characteristic._meta.get_field("code").max_length
_EQUIPMENT_CODE_LENGTH = Equipment._meta.get_field("code").max_length
_FIELD_LENGTH = DeadLetter._meta.get_field("field").max_length
_SOURCE_LENGTH = Measurement._meta.get_field("source").max_length
_CLIENT_LENGTH = IngestBatch._meta.get_field("client").max_length


@dataclass(frozen=True, slots=True)
class IngestResult:
    status_code: int        # 200, or 422 when every item of a non-empty batch was rejected
    body: dict
    replayed: bool = False  # True when an Idempotency-Key matched an earlier batch


class IdempotencyKeyConflict(Exception):
    """The key was already used by this client for a different request body."""

    def __init__(self, batch: IngestBatch):
        super().__init__(f"idempotency key already used by batch {batch.pk}")
        self.batch = batch


class _KeyTaken(Exception):
    pass


def ingest_limits() -> Limits:
    return Limits(
        max_future_seconds=settings.INGEST_MAX_FUTURE_SECONDS,
        min_year=settings.INGEST_MIN_YEAR,
        max_lot_length=Measurement._meta.get_field("lot_code").max_length,
    )


def batch_fingerprint(site_id: int, items: list) -> str:
    """Hash of what was asked (site + items, keys sorted): a retry re-serialised by another library still matches."""
    document = {"site": site_id, "measurements": items}
    try:
        canonical = orjson.dumps(document, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    except TypeError:   # integers beyond 64 bits (only the lenient NaN parser produces them)
        canonical = json.dumps(document, sort_keys=True, default=str).encode()
    return hashlib.sha256(canonical).hexdigest()


# A dictionary row as read → its CharacteristicSpec. The spec is a pure function of the row, so a row read again
# (every batch of a connector names the same codes) reuses its spec instead of building it anew — about a third of
# load_dictionary's CPU for 333 codes. Nothing goes stale: a changed entry is a different row, hence a different key.
@functools.lru_cache(maxsize=50_000)
def _spec_of(row: tuple) -> CharacteristicSpec:
    pk, code, data_type, precision, policy, low, high, equipment_id, status = row
    return CharacteristicSpec(
        id=pk, code=code, data_type=data_type, precision=precision, precision_policy=policy,
        physical_min=low, physical_max=high, equipment_id=equipment_id,
        retired=status == Characteristic.Status.RETIRED,
    )


def load_dictionary(site_id: int, items: list) -> tuple[dict[str, CharacteristicSpec], dict[str, int]]:
    """The dictionary entries and equipment the batch names, of this site only: one query each (read on every
    batch, never cached: a retired or changed entry takes effect for the next batch, whichever process changed it)."""
    codes: set[str] = set()
    equipment_codes: set[str] = set()
    for item in items:
        if type(item) is dict:
            code = item.get("characteristic")
            if type(code) is str:
                codes.add(code)
            equipment = item.get("equipment")
            if type(equipment) is str:
                equipment_codes.add(equipment)
    # Codes the columns cannot hold (too long, NUL) are unknown without asking the database.
    codes = {code for code in codes if len(code) <= _CODE_LENGTH and "\x00" not in code}
    equipment_codes = {code for code in equipment_codes if len(code) <= _EQUIPMENT_CODE_LENGTH and "\x00" not in code}
    characteristics = {}
    if codes:
        # order_by(): the model's default order (by site code) would join the site table for nothing.
        rows = Characteristic.objects.filter(AnyOf(F("code"), codes), site_id=site_id).order_by().values_list(
            "id", "code", "data_type", "precision", "precision_policy", "physical_min", "physical_max",
            "equipment_id", "status",
        )
        for row in rows:
            characteristics[row[1]] = _spec_of(row)
    equipment_ids = {}
    if equipment_codes:
        equipment_ids = dict(
            Equipment.objects.filter(AnyOf(F("code"), equipment_codes), site_id=site_id).order_by()
            .values_list("code", "id")
        )
    return characteristics, equipment_ids


def ingest_measurements(*, site, items: list, source: str, idempotency_key: str | None = None,
                        client: str | None = None, now: datetime | None = None) -> IngestResult:
    """Validate and store one batch for `site` on behalf of `source` (the client identity that makes
    (characteristic, ts, source) unique). `client` scopes idempotency keys; it defaults to `source`.

    Raises IdempotencyKeyConflict when the key was used before with a different batch.
    """
    client = client or source
    if not source or len(source) > _SOURCE_LENGTH or len(client) > _CLIENT_LENGTH:
        raise ValueError(f"source/client must be 1–{_SOURCE_LENGTH}/{_CLIENT_LENGTH} characters")
    if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        raise ValueError(f"an idempotency key has 1–{MAX_IDEMPOTENCY_KEY_LENGTH} characters")
    fingerprint = batch_fingerprint(site.pk, items) if idempotency_key else ""
    if idempotency_key:
        previous = IngestBatch.objects.filter(client=client, idempotency_key=idempotency_key).first()
        if previous is not None:
            return _replay(previous, fingerprint)

    now = now or timezone.now()
    characteristics, equipment = load_dictionary(site.pk, items)
    result = validate_items(items, characteristics=characteristics, equipment=equipment, now=now,
                            limits=ingest_limits())
    try:
        with transaction.atomic():
            batch = _open_batch(site, client, idempotency_key, fingerprint, len(items))
            stored = store_accepted(site.pk, result.accepted, source=source, batch_id=batch.pk, received_at=now)
            errors = record_dead_letters(site.pk, batch.pk, result.rejected, source)
            duplicates = sorted(result.duplicates + stored.duplicate_indices)
            body = {
                "batch": batch.pk,
                "received": len(items),
                "stored": stored.stored,
                "duplicates": len(duplicates),
                "rejected": len(result.rejected),
                "duplicate_indices": duplicates,
                "rounded_indices": result.rounded,
                "errors": errors,
            }
            status_code = 422 if items and len(result.rejected) == len(items) else 200
            IngestBatch.objects.filter(pk=batch.pk).update(
                stored_count=stored.stored, duplicate_count=len(duplicates),
                rejected_count=len(result.rejected), status_code=status_code, response=body,
            )
    except _KeyTaken:
        previous = IngestBatch.objects.get(client=client, idempotency_key=idempotency_key)
        return _replay(previous, fingerprint)
    return IngestResult(status_code, body)


def _open_batch(site, client, idempotency_key, fingerprint, item_count) -> IngestBatch:
    try:
        with transaction.atomic():
            return IngestBatch.objects.create(
                site=site, client=client, idempotency_key=idempotency_key or None, request_hash=fingerprint,
                item_count=item_count,
            )
    except IntegrityError as exc:
        if idempotency_key:
            raise _KeyTaken from exc   # a concurrent request with this key committed first
        raise


def _replay(batch: IngestBatch, fingerprint: str) -> IngestResult:
    if batch.request_hash != fingerprint:
        raise IdempotencyKeyConflict(batch)
    return IngestResult(batch.status_code, batch.response, replayed=True)


def record_dead_letters(site_id: int, batch_id: int | None, rejected: list[Rejection], source: str) -> list[dict]:
    """Keep every rejected item verbatim; return the per-item errors for the response."""
    errors = []
    letters = []
    for rejection in rejected:
        message = problem_message(rejection)
        field = storable(rejection.field)[:_FIELD_LENGTH]
        errors.append({"index": rejection.index, "field": field, "code": str(rejection.code), "message": message})
        letters.append(DeadLetter(
            site_id=site_id, batch_id=batch_id, index=rejection.index, payload=storable(rejection.item),
            field=field, code=str(rejection.code), message=message, source=source,
        ))
    DeadLetter.objects.bulk_create(letters, batch_size=1000)
    return errors


def _short(value, limit: int = 80) -> str:
    text = storable(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_EXPECTED = {
    "characteristic": lambda: _("a string (the data-dictionary code)"),
    "value": lambda: _("a number"),
    "ts": lambda: _("an ISO-8601 string with a UTC offset"),
    "equipment": lambda: _("a string (the equipment code)"),
    "lot": lambda: _("a string (the lot code)"),
    "quality": lambda: _("one of the strings good, uncertain, bad"),
}


def problem_message(rejection: Rejection) -> str:
    """The translated, human-readable reason for one rejected item."""
    code, params, field = rejection.code, rejection.params, rejection.field
    if code == Problem.NOT_AN_OBJECT:
        return _("The item is not an object: expected {\"characteristic\", \"value\", \"ts\", …}.")
    if code == Problem.UNKNOWN_FIELD:
        return _("Unknown field '%(field)s'; the allowed fields are %(allowed)s.") % {
            "field": _short(params["field"], 40), "allowed": ", ".join(params["allowed"])}
    if code == Problem.MISSING:
        return _("The required field '%(field)s' is missing.") % {"field": field}
    if code == Problem.WRONG_TYPE:
        expected = _("true/false (or 1/0)") if params.get("expected") == "boolean" else _EXPECTED[field]()
        return _("Wrong type for '%(field)s': expected %(expected)s; nothing is converted.") % {
            "field": field, "expected": expected}
    if code == Problem.UNKNOWN_CHARACTERISTIC:
        return _("Unknown characteristic '%(code)s' at this site.") % {"code": _short(params["code"])}
    if code == Problem.RETIRED_CHARACTERISTIC:
        return _("The characteristic '%(code)s' is retired and accepts no new data.") % {"code": _short(params["code"])}
    if code == Problem.NON_FINITE:
        return _("The value is not a finite number (NaN, Infinity or beyond the range of a double).")
    if code == Problem.NOT_INTEGER:
        return _("The characteristic takes whole numbers; %(value)s has a fraction.") % {"value": params["value"]}
    if code == Problem.NOT_BOOLEAN:
        return _("The characteristic takes true/false (or 1/0), not %(value)s.") % {"value": params["value"]}
    if code == Problem.OUT_OF_RANGE:
        return _("The value %(value)s lies outside the physical range [%(min)s, %(max)s].") % {
            "value": params["value"],
            "min": "−∞" if params["min"] is None else f"{params['min']:g}",
            "max": "+∞" if params["max"] is None else f"{params['max']:g}",
        }
    if code == Problem.TOO_PRECISE:
        return _("The value %(value)s has more than %(precision)s decimal places, and this characteristic rejects "
                 "such values instead of rounding them.") % {"value": params["value"], "precision": params["precision"]}
    if code == Problem.INVALID_TIMESTAMP:
        return _("The timestamp is not ISO-8601 (example: 2026-11-24T08:00:00.123Z).")
    if code == Problem.TIMEZONE_MISSING:
        return _("The timestamp has no UTC offset: add 'Z' or an offset such as '+08:00'.")
    if code == Problem.IN_FUTURE:
        return _("The timestamp lies more than %(seconds)s seconds in the future.") % {
            "seconds": params["max_future_seconds"]}
    if code == Problem.TOO_OLD:
        return _("The timestamp lies before the year %(year)s.") % {"year": params["min_year"]}
    if code == Problem.UNKNOWN_EQUIPMENT:
        return _("Unknown equipment '%(code)s' at this site.") % {"code": _short(params["code"])}
    if code == Problem.INVALID_CHOICE:
        return _("The quality must be one of: good, uncertain, bad.")
    if code == Problem.TOO_LONG:
        return _("The lot code is longer than %(length)s characters.") % {"length": params["max_length"]}
    if code == Problem.INVALID_CHARACTERS:
        return _("The lot code contains control characters.")
    return str(code)

