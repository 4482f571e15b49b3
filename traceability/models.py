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


class SerialNumber(models.Model):
    """A serialised unit of a lot (where the product has serial numbers). A serial names one unit: within a site it
    belongs to exactly one lot (`site` repeats the lot's site so the database enforces that, even under races)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="serials", verbose_name=_("site"))
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="serials", verbose_name=_("lot"))
    serial = models.CharField(_("serial number"), max_length=80)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["serial"]
        # (site, serial) also serves "which lot has serial S" across the user's sites.
        constraints = [models.UniqueConstraint(fields=["site", "serial"], name="serial_unique_per_site")]
        # The serials of one lot, in order (the lot page and GET /lots/{code}/serials/).
        indexes = [models.Index(fields=["lot", "serial"], name="serial_by_lot")]
        verbose_name = _("serial number")
        verbose_name_plural = _("serial numbers")

    def __str__(self):
        return self.serial


class Hold(models.Model):
    """A freeze: a reason and a scope (explicit lots and/or all lots that ran on one equipment in a time window,
    optionally everything made from them). Its lots are materialised in HoldLot; state changes go through
    `traceability.services.holds` only."""

    class State(models.TextChoices):
        ACTIVE = "active", _("active")
        PARTIALLY_RELEASED = "partially_released", _("partially released")
        RELEASED = "released", _("released")

    class Source(models.TextChoices):
        MANUAL = "manual", _("placed by hand")
        ALARM = "alarm", _("placed by a reaction rule")
        NC = "nc", _("nonconformance")

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="holds", verbose_name=_("site"))
    number = models.CharField(_("number"), max_length=32)
    reason = models.CharField(_("reason"), max_length=500)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices, default=Source.MANUAL)
    alarm = models.ForeignKey("qms.Alarm", on_delete=models.PROTECT, null=True, blank=True, related_name="holds",
                              verbose_name=_("alarm"))
    equipment = models.ForeignKey(Equipment, on_delete=models.PROTECT, null=True, blank=True, related_name="holds",
                                  verbose_name=_("equipment"))
    window_start = models.DateTimeField(_("window start"), null=True, blank=True)
    window_end = models.DateTimeField(_("window end"), null=True, blank=True,
                                      help_text=_("Empty while the window is open (until the alarm clears)."))
    propagate_forward = models.BooleanField(_("also hold lots made from them"), default=False)
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.ACTIVE)
    placed_at = models.DateTimeField(_("placed at"))
    placed_by = models.CharField(_("placed by"), max_length=150)
    released_at = models.DateTimeField(_("released at"), null=True, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-placed_at"]
        constraints = [
            models.UniqueConstraint(fields=["site", "number"], name="hold_number_unique_per_site"),
            models.CheckConstraint(
                condition=models.Q(window_end__isnull=True) | models.Q(window_start__isnull=True)
                | models.Q(window_end__gte=models.F("window_start")),
                name="hold_window_end_after_start",
            ),
        ]
        indexes = [models.Index(fields=["equipment", "state"], name="hold_equipment_state")]
        permissions = [("release_hold", _("Can decide on held lots (release, rework, scrap) with an e-signature"))]
        verbose_name = _("hold")
        verbose_name_plural = _("holds")

    def __str__(self):
        return self.number


class HoldLot(models.Model):
    """One lot under one hold, and what was decided for it (e-signed)."""

    class Via(models.TextChoices):
        DIRECT = "direct", _("named explicitly")
        WINDOW = "window", _("ran in the time window")
        GENEALOGY = "genealogy", _("made from a held lot")

    class Disposition(models.TextChoices):
        HELD = "held", _("held")
        RELEASE = "release", _("released")
        REWORK = "rework", _("rework")
        SCRAP = "scrap", _("scrap")
        NC = "nc", _("handed over to nonconformance")

    id = models.BigAutoField(primary_key=True)
    # No single-column FK indexes: (hold, lot) unique and (lot, disposition) lead with them and serve every lookup;
    # two fewer indexes to maintain per row when a freeze inserts tens of thousands of entries.
    # No database FK constraints on hold and lot: PostgreSQL checks each per inserted row at commit (a look-up and a
    # row lock), which cost a 54,000-lot freeze 0.3–0.8 s per constraint (bench/freeze.py). The insert takes its hold
    # from the same transaction and its lot ids from the lot table in the same statement; deleting a hold or a lot
    # that has entries is refused by triggers (migration 0003) as well as by PROTECT.
    hold = models.ForeignKey(Hold, on_delete=models.PROTECT, related_name="lots", verbose_name=_("hold"),
                             db_index=False, db_constraint=False)
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="hold_entries", verbose_name=_("lot"),
                            db_index=False, db_constraint=False)
    via = models.CharField(_("held because"), max_length=10, choices=Via.choices)
    depth = models.PositiveSmallIntegerField(_("genealogy depth"), default=0)
    disposition = models.CharField(_("disposition"), max_length=10, choices=Disposition.choices,
                                   default=Disposition.HELD)
    disposed_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    disposed_by = models.CharField(_("decided by"), max_length=150, blank=True)
    signature = models.ForeignKey("qms.ESignature", on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+", verbose_name=_("signature"), db_index=False)
    comment = models.CharField(_("comment"), max_length=500, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1)

    class Meta:
        ordering = ["hold", "lot"]
        constraints = [models.UniqueConstraint(fields=["hold", "lot"], name="hold_lot_unique")]
        indexes = [
            # The verdict of a lot reads its entries whose decision is still open.
            models.Index(fields=["lot", "disposition"], name="hold_lot_verdict"),
            # Partial: entries are inserted undecided (no signature), so a freeze adds no entry to this index.
            models.Index(fields=["signature"], condition=models.Q(signature__isnull=False), name="hold_lot_signature"),
        ]
        verbose_name = _("held lot")
        verbose_name_plural = _("held lots")

    def __str__(self):
        return f"{self.hold.number}: {self.lot.code} ({self.disposition})"


from traceability.verdicts.models import (  # noqa: E402,F401  (registered with this app)
    LotVerdict,
    PendingVerdictPublication,
    VerdictCacheState,
)
