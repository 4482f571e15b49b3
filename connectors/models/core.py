"""Core connector models: the connector configuration (in the database, so a quality engineer edits it from the UI or
the API and the runner reloads it without a restart), its tag mappings onto data-dictionary characteristics, its
live status and counters, and write-back commands (QMS → MES).

Config validation per kind lives in connectors/config.py (plain code, no model import) so adapters and the API
share one definition.
"""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from qms.models import Characteristic, Site

__all__ = ["Connector", "ConnectorStatus", "TagMapping", "WriteBackCommand"]


class Connector(models.Model):
    class Kind(models.TextChoices):
        OPCUA = "opcua", _("OPC UA")
        MODBUS = "modbus", _("Modbus TCP")
        MQTT = "mqtt", _("MQTT")
        TABLE = "table", _("intermediate table")
        FILE = "file", _("legacy files")
        REST = "rest", _("REST push")
        WEBHOOK = "webhook", _("HTTP webhook (write-back only)")

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="connectors", verbose_name=_("site"))
    name = models.CharField(_("name"), max_length=64, help_text=_("Unique per site; used as the measurement source."))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    description = models.CharField(_("description"), max_length=300, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    shadow_mode = models.BooleanField(
        _("shadow mode"), default=False,
        help_text=_("Write-back commands are computed, logged and shown, but not sent (parallel run)."),
    )
    config = models.JSONField(_("configuration"), default=dict, blank=True)
    # Passwords, keys and HMAC secrets: kept out of the history/audit trail and never returned by the API.
    secrets = models.JSONField(_("secrets"), default=dict, blank=True)
    verdict_push_target = models.CharField(
        _("verdict push target"), max_length=500, blank=True, default="",
        help_text=_("Where lot verdict changes are written (webhook path, OPC UA node, topic …); empty: no push."),
    )
    runner_group = models.CharField(
        _("runner group"), max_length=64, blank=True, default="",
        help_text=_("Runners started with --group X host only the connectors of group X (empty: the default runner)."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    history = HistoricalRecords(excluded_fields=["secrets"])

    class Meta:
        ordering = ["site__code", "name"]
        constraints = [models.UniqueConstraint(fields=["site", "name"], name="connector_name_unique_per_site")]
        verbose_name = _("connector")
        verbose_name_plural = _("connectors")

    def __str__(self):
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def source_label(self) -> str:
        """The `source` of every measurement this connector stores."""
        return f"connector:{self.name}"

    def clean(self):
        from connectors.config import ConfigError, validate_connector_config

        try:
            self.config = validate_connector_config(self.kind, self.config or {})
        except ConfigError as exc:
            raise ValidationError({"config": exc.text(gettext)}) from exc


class TagMapping(models.Model):
    """One source value (OPC UA node, register, topic path, column) feeding one dictionary characteristic."""

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="tags", verbose_name=_("connector"))
    characteristic = models.ForeignKey(
        Characteristic, on_delete=models.PROTECT, related_name="tag_mappings", verbose_name=_("characteristic")
    )
    source_ref = models.CharField(
        _("source reference"), max_length=500,
        help_text=_("OPC UA node id, Modbus register spec, MQTT topic, table column … depending on the connector kind."),
    )
    params = models.JSONField(
        _("parameters"), default=dict, blank=True,
        help_text=_("Per-tag options, e.g. scale, offset, deadband, sampling_interval_ms, data_type, word_order."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # Written by the ingest task / watchdog, not by users.
    last_value_at = models.DateTimeField(_("last value at"), null=True, blank=True)
    last_quality = models.CharField(_("last quality"), max_length=10, blank=True, default="")
    stale_since = models.DateTimeField(_("stale since"), null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["last_value_at", "last_quality", "stale_since"])

    class Meta:
        ordering = ["connector", "source_ref"]
        constraints = [
            models.UniqueConstraint(fields=["connector", "characteristic"], name="tagmapping_characteristic_once"),
        ]
        verbose_name = _("tag mapping")
        verbose_name_plural = _("tag mappings")

    def __str__(self):
        return f"{self.source_ref} → {self.characteristic.code}"

    def clean(self):
        if self.connector_id and self.characteristic_id and self.characteristic.site_id != self.connector.site_id:
            raise ValidationError({"characteristic": _("The characteristic belongs to another site.")})


class ConnectorStatus(models.Model):
    """Live state and counters, written by the runner (received, buffered, reconnects, skew) and the ingest task
    (stored, rejected). One row per connector; counters are monotonic since the row was created."""

    class State(models.TextChoices):
        STOPPED = "stopped", _("stopped")
        CONNECTING = "connecting", _("connecting")
        CONNECTED = "connected", _("connected")
        DEGRADED = "degraded", _("degraded")
        DOWN = "down", _("down")

    connector = models.OneToOneField(Connector, on_delete=models.CASCADE, related_name="status", primary_key=True)
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.STOPPED)
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    runner = models.CharField(_("runner"), max_length=120, blank=True)
    last_value_at = models.DateTimeField(_("last value at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)
    received = models.BigIntegerField(_("received"), default=0)
    stored = models.BigIntegerField(_("stored"), default=0)
    duplicates = models.BigIntegerField(_("duplicates"), default=0)
    rejected = models.BigIntegerField(_("rejected"), default=0)
    bad_quality = models.BigIntegerField(_("bad quality"), default=0)
    buffered = models.BigIntegerField(_("buffered"), default=0)
    reconnects = models.BigIntegerField(_("reconnects"), default=0)
    clock_skew_ms = models.FloatField(_("clock skew (ms)"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("heartbeat"), null=True, blank=True)

    class Meta:
        verbose_name = _("connector status")
        verbose_name_plural = _("connector statuses")

    def __str__(self):
        return f"{self.connector.name}: {self.state}"


class WriteBackCommand(models.Model):
    """A QMS → MES command (hold, release, verdict). pending → sent → confirmed | failed; `shadow` when the
    connector runs in shadow mode (computed, logged and shown, never sent)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENT = "sent", _("sent")
        CONFIRMED = "confirmed", _("confirmed")
        FAILED = "failed", _("failed")
        SHADOW = "shadow", _("shadow (not sent)")

    connector = models.ForeignKey(
        Connector, on_delete=models.PROTECT, related_name="writeback_commands", verbose_name=_("connector")
    )
    target = models.CharField(_("target"), max_length=500, help_text=_("OPC UA node id, coil/register, topic or URL path"))
    value = models.JSONField(_("value"))
    reason = models.CharField(_("reason"), max_length=500)
    requested_by = models.CharField(_("requested by"), max_length=150, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    readback_value = models.JSONField(_("value read back"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["connector", "idempotency_key"], name="writeback_idempotency_unique",
                condition=models.Q(idempotency_key__isnull=False),
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="writeback_status")]
        verbose_name = _("write-back command")
        verbose_name_plural = _("write-back commands")

    def __str__(self):
        return f"{self.connector.name} {self.target} := {self.value!r} ({self.status})"
