"""Lots, where and when they ran, and their genealogy (material lot → production lot)."""
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from qms.models import Equipment, Product, Site


class Lot(models.Model):
    class Kind(models.TextChoices):
        PRODUCTION = "production", _("production lot")
        MATERIAL = "material", _("material lot")

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="lots", verbose_name=_("site"))
    code = models.CharField(_("lot"), max_length=64)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.PRODUCTION)
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, null=True, blank=True, related_name="lots", verbose_name=_("product")
    )
    quantity = models.FloatField(_("quantity"), null=True, blank=True)
    unit = models.CharField(_("unit"), max_length=16, blank=True, default="pcs")
    supplier = models.CharField(_("supplier"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["site", "code"], name="lot_code_unique_per_site")]
        verbose_name = _("lot")
        verbose_name_plural = _("lots")

    def __str__(self):
        return self.code


class LotRun(models.Model):
    """A lot ran on a piece of equipment from started_at until ended_at (open while running)."""

    lot = models.ForeignKey(Lot, on_delete=models.CASCADE, related_name="runs", verbose_name=_("lot"))
    equipment = models.ForeignKey(
        Equipment, on_delete=models.PROTECT, related_name="lot_runs", verbose_name=_("equipment")
    )
    started_at = models.DateTimeField(_("started at"))
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    concurrent = models.BooleanField(
        _("concurrent"),
        default=False,
        help_text=_("Registered as running alongside other lots on the same machine (e.g. a family mould)."),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(fields=["lot", "equipment", "started_at"], name="lot_run_unique"),
            models.CheckConstraint(
                condition=models.Q(ended_at__isnull=True) | models.Q(ended_at__gte=models.F("started_at")),
                name="lot_run_end_after_start",
            ),
        ]
        indexes = [
            # "runs of equipment E, newest first" and the overlap check when a run starts
            models.Index(fields=["equipment", "started_at", "ended_at"], name="lot_run_window"),
            # "all lots that ran on equipment E between t1 and t2": a range scan on ended_at >= t1 (plus the open
            # runs, ended_at IS NULL) touches only recent runs instead of the machine's whole history.
            models.Index(fields=["equipment", "ended_at", "started_at"], name="lot_run_window_end"),
        ]
        verbose_name = _("production run")
        verbose_name_plural = _("production runs")

    def __str__(self):
        return f"{self.lot.code} @ {self.equipment.code} from {self.started_at.isoformat()}"

    @property
    def is_open(self) -> bool:
        return self.ended_at is None

    def clean(self):
        if self.ended_at is not None and self.ended_at < self.started_at:
            raise ValidationError({"ended_at": _("The end lies before the start.")})


class GenealogyEdge(models.Model):
    """`parent` (e.g. a material lot) was consumed into `child` (a production lot), `quantity` of it."""

    parent = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="child_edges", verbose_name=_("parent lot"))
    child = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="parent_edges", verbose_name=_("child lot"))
    quantity = models.FloatField(_("quantity"), null=True, blank=True)
    unit = models.CharField(_("unit"), max_length=16, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["parent", "child"], name="genealogy_edge_unique"),
            models.CheckConstraint(condition=~models.Q(parent=models.F("child")), name="genealogy_no_self_loop"),
        ]
        # The unique (parent, child) index covers the forward walk; (child, parent) covers the backward walk, so
        # both recursive traces run as index-only scans.
        indexes = [models.Index(fields=["child", "parent"], name="genealogy_child")]
        verbose_name = _("genealogy edge")
        verbose_name_plural = _("genealogy edges")

    def __str__(self):
        return f"{self.parent.code} → {self.child.code}"
