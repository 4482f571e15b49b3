"""Intermediate-table and legacy-file import state: see connectors/models/__init__.py."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from qms.auth.roles import ADMIN, AUDITOR, QUALITY_ENGINEER, SUPERVISOR, extend_roles

from .core import Connector

__all__ = ["ImportedFile", "TableSourceState"]

# Registered at model import, i.e. before the post-migrate role sync: quality engineers import legacy files;
# the others may look at what was imported.
extend_roles({
    QUALITY_ENGINEER: ["connectors.add_importedfile", "connectors.view_importedfile", "connectors.view_tablesourcestate"],
    SUPERVISOR: ["connectors.view_importedfile", "connectors.view_tablesourcestate"],
    AUDITOR: ["connectors.view_importedfile", "connectors.view_tablesourcestate"],
    ADMIN: ["connectors.view_importedfile", "connectors.view_tablesourcestate"],
})


class TableSourceState(models.Model):
    """What the last polls of one intermediate-table connector did (the rows' own status column is the truth)."""

    connector = models.OneToOneField(Connector, on_delete=models.CASCADE, related_name="table_state",
                                     verbose_name=_("connector"))
    last_poll_at = models.DateTimeField(_("last poll"), null=True, blank=True)
    last_success_at = models.DateTimeField(_("last successful poll"), null=True, blank=True)
    rows_claimed = models.PositiveBigIntegerField(_("rows read"), default=0)
    rows_acknowledged = models.PositiveBigIntegerField(_("rows acknowledged"), default=0)
    rows_marked_error = models.PositiveBigIntegerField(_("rows marked unusable"), default=0)
    stored = models.PositiveBigIntegerField(_("measurements stored"), default=0)
    duplicates = models.PositiveBigIntegerField(_("duplicates"), default=0)
    rejected = models.PositiveBigIntegerField(_("rejected"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    recent_problems = models.JSONField(_("recent row problems"), default=list, blank=True)

    class Meta:
        verbose_name = _("intermediate-table state")
        verbose_name_plural = _("intermediate-table states")

    def __str__(self):
        return str(self.connector)


class ImportedFile(models.Model):
    """One legacy file imported through a file connector. The content hash makes re-importing the same file a
    no-op (its rows are stored once); the row problems are kept for the person who has to fix the file."""

    class Status(models.TextChoices):
        IMPORTING = "importing", _("importing")
        DONE = "done", _("imported")
        DONE_WITH_ERRORS = "partial", _("imported with row errors")
        FAILED = "failed", _("failed")

    class Origin(models.TextChoices):
        UPLOAD = "upload", _("uploaded")
        DROP = "drop", _("file-drop directory")
        COMMAND = "command", _("management command")

    connector = models.ForeignKey(Connector, on_delete=models.PROTECT, related_name="imported_files",
                                  verbose_name=_("connector"))
    sha256 = models.CharField(_("content hash (SHA-256)"), max_length=64)
    filename = models.CharField(_("file name"), max_length=255)
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    file_format = models.CharField(_("format"), max_length=8)
    encoding = models.CharField(_("encoding"), max_length=32, blank=True)
    origin = models.CharField(_("origin"), max_length=8, choices=Origin.choices, default=Origin.UPLOAD)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.IMPORTING)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    readings = models.PositiveIntegerField(_("readings"), default=0)
    stored = models.PositiveIntegerField(_("stored"), default=0)
    duplicates = models.PositiveIntegerField(_("duplicates"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    row_errors = models.JSONField(_("row errors"), default=list, blank=True)
    error_count = models.PositiveIntegerField(_("row errors (count)"), default=0)
    message = models.TextField(_("message"), blank=True)
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+", verbose_name=_("imported by"))
    created_at = models.DateTimeField(_("imported at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["connector", "sha256"], name="imported_file_once_per_connector")]
        verbose_name = _("imported file")
        verbose_name_plural = _("imported files")

    def __str__(self):
        return self.filename
