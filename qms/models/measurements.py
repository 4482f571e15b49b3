"""Stored measurements, ingest batches (idempotency) and the dead-letter table for rejected items."""
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .dictionary import Characteristic
from .plant import Equipment, Site


class Quality(models.IntegerChoices):
    GOOD = 0, _("good")
    UNCERTAIN = 1, _("uncertain")
    BAD = 2, _("bad")


QUALITY_BY_NAME = {"good": Quality.GOOD, "uncertain": Quality.UNCERTAIN, "bad": Quality.BAD}
QUALITY_NAMES = {int(v): k for k, v in QUALITY_BY_NAME.items()}


class IngestBatch(models.Model):
    """One accepted POST of measurements. The idempotency key replays `response` instead of storing twice."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="ingest_batches")
    client = models.CharField(_("client"), max_length=150, help_text=_("token or user that sent the batch"))
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, null=True, blank=True)
    request_hash = models.CharField(_("request hash"), max_length=64)
    item_count = models.PositiveIntegerField(_("items"), default=0)
    stored_count = models.PositiveIntegerField(_("stored"), default=0)
    duplicate_count = models.PositiveIntegerField(_("duplicates"), default=0)
    rejected_count = models.PositiveIntegerField(_("rejected"), default=0)
    status_code = models.PositiveSmallIntegerField(default=200)
    response = models.JSONField(default=dict)
    created_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "idempotency_key"], name="ingest_batch_idempotency_unique",
                condition=models.Q(idempotency_key__isnull=False),
            ),
        ]
        verbose_name = _("ingest batch")
        verbose_name_plural = _("ingest batches")


class Measurement(models.Model):
    """One value of one characteristic at one time, from one source. Stored once per (characteristic, ts, source).

    The hottest table: its foreign keys are checked by the ingest path (ids come from the site's dictionary, read in
    the same transaction) and by the ORM's on_delete handling, not by database constraints — PostgreSQL's per-row
    deferred RI triggers cost more than the insert itself (docs/ingestion.md, "Storage"). No single-column index
    on characteristic/equipment either: the unique (characteristic, ts, source) and (equipment, ts) indexes lead
    with those columns.
    """

    characteristic = models.ForeignKey(
        Characteristic, on_delete=models.PROTECT, related_name="measurements", db_constraint=False, db_index=False
    )
    ts = models.DateTimeField(_("time"))
    value = models.FloatField(_("value"))
    quality = models.SmallIntegerField(_("quality"), choices=Quality.choices, default=Quality.GOOD)
    lot_code = models.CharField(_("lot"), max_length=64, blank=True, default="")
    equipment = models.ForeignKey(
        Equipment, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_constraint=False,
        db_index=False,
    )
    source = models.CharField(
        _("source"), max_length=160, help_text=_("client identity: 'token:<name>' for a machine token, else the username")
    )
    batch = models.ForeignKey(
        IngestBatch, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_constraint=False
    )
    received_at = models.DateTimeField(_("received at"))

    class Meta:
        ordering = ["-ts"]
        constraints = [
            # Also serves "latest N points of characteristic X" (index scan backwards on characteristic, ts).
            models.UniqueConstraint(fields=["characteristic", "ts", "source"], name="measurement_unique_point"),
        ]
        indexes = [
            models.Index(fields=["equipment", "ts"], name="measurement_equipment_ts"),
            models.Index(fields=["lot_code", "characteristic"], name="measurement_lot"),
        ]
        verbose_name = _("measurement")
        verbose_name_plural = _("measurements")


class DeadLetter(models.Model):
    """A rejected item, kept verbatim so it can be inspected, corrected and replayed."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        REPLAYED = "replayed", _("replayed")
        DISCARDED = "discarded", _("discarded")

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="dead_letters")
    batch = models.ForeignKey(IngestBatch, on_delete=models.SET_NULL, null=True, blank=True, related_name="dead_letters")
    index = models.PositiveIntegerField(_("index in batch"))
    payload = models.JSONField(_("payload"))
    field = models.CharField(_("field"), max_length=64, blank=True)
    code = models.CharField(_("error code"), max_length=64)
    message = models.TextField(_("message"))
    source = models.CharField(
        _("source"), max_length=160, help_text=_("client identity: 'token:<name>' for a machine token, else the username")
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(_("received at"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolution_note = models.TextField(_("resolution note"), blank=True)

    class Meta:
        ordering = ["-created_at", "index"]
        indexes = [models.Index(fields=["site", "status", "created_at"], name="deadletter_open")]
        verbose_name = _("dead letter")
        verbose_name_plural = _("dead letters")
