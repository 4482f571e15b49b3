"""Nonconformances (NC), the defect-code catalogue, attachments and dispositions decided by a material review board.

State changes go through `qms.services.nc` only (one function per transition, row-locked, e-signed where a decision
is made, audited).
"""
from django.conf import settings
from django.db import models
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .alarms import Alarm
from .dictionary import ActorStampedHistory, Characteristic
from .esign import ESignature
from .plant import Equipment, Line, Operation, Product, Site


class DefectCode(models.Model):
    """A hierarchical catalogue entry (category → defect), named in both languages."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, null=True, blank=True, related_name="defect_codes",
                             verbose_name=_("site"), help_text=_("Empty: shared by every site."))
    code = models.CharField(_("code"), max_length=32)
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children",
                               verbose_name=_("parent"))
    name_en = models.CharField(_("name (English)"), max_length=200)
    name_zh = models.CharField(_("name (Chinese)"), max_length=200)
    unit_cost = models.DecimalField(_("cost per defective unit"), max_digits=12, decimal_places=2, null=True,
                                    blank=True)
    active = models.BooleanField(_("active"), default=True)
    history = HistoricalRecords(bases=[ActorStampedHistory])

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["site", "code"], name="defect_code_unique_per_site")]
        verbose_name = _("defect code")
        verbose_name_plural = _("defect codes")

    def __str__(self):
        return f"{self.code} {self.name}"

    @property
    def name(self) -> str:
        """The name in the active language (Chinese for zh-*, else English; either when the other is empty)."""
        chinese = (get_language() or "").lower().startswith("zh")
        return (self.name_zh if chinese else self.name_en) or self.name_en or self.name_zh


class Nonconformance(models.Model):
    class Source(models.TextChoices):
        ALARM = "alarm", _("alarm")
        INSPECTION = "inspection", _("inspection")
        CUSTOMER = "customer_complaint", _("customer complaint")
        SUPPLIER = "supplier", _("supplier")
        AUDIT = "internal_audit", _("internal audit")

    class Severity(models.TextChoices):  # own context: an NC's "critical" is not an alarm's (zh: 致命 vs 紧急)
        CRITICAL = "critical", pgettext_lazy("NC severity", "critical")
        MAJOR = "major", pgettext_lazy("NC severity", "major")
        MINOR = "minor", pgettext_lazy("NC severity", "minor")

    class State(models.TextChoices):
        DRAFT = "draft", _("draft")
        OPEN = "open", _("open")
        DISPOSITION = "disposition", _("in disposition")
        DISPOSITIONED = "dispositioned", _("dispositioned")
        CLOSED = "closed", _("closed")
        CANCELLED = "cancelled", _("cancelled")

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="nonconformances", verbose_name=_("site"))
    number = models.CharField(_("number"), max_length=32)
    title = models.CharField(_("title"), max_length=200)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices, default=Severity.MAJOR)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.DRAFT)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                verbose_name=_("product"))
    line = models.ForeignKey(Line, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                             verbose_name=_("line"))
    equipment = models.ForeignKey(Equipment, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                  verbose_name=_("equipment"))
    operation = models.ForeignKey(Operation, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                  verbose_name=_("operation"))
    characteristic = models.ForeignKey(Characteristic, on_delete=models.PROTECT, null=True, blank=True,
                                       related_name="+", verbose_name=_("characteristic"))
    detection_point = models.CharField(_("detection point"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    containment = models.TextField(_("containment actions"), blank=True)
    defect_codes = models.ManyToManyField(DefectCode, blank=True, related_name="nonconformances",
                                          verbose_name=_("defect codes"))
    alarm = models.ForeignKey(Alarm, on_delete=models.PROTECT, null=True, blank=True, related_name="nonconformances",
                              verbose_name=_("alarm"))
    holds = models.ManyToManyField("traceability.Hold", blank=True, related_name="nonconformances",
                                   verbose_name=_("holds"))
    evidence = models.JSONField(_("evidence"), default=dict, blank=True)
    quantity_affected = models.FloatField(_("quantity affected"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+", verbose_name=_("owner"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    history = HistoricalRecords(bases=[ActorStampedHistory])

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["site", "number"], name="nc_number_unique_per_site")]
        indexes = [models.Index(fields=["site", "state", "created_at"], name="nc_site_state")]
        verbose_name = _("nonconformance")
        verbose_name_plural = _("nonconformances")

    def __str__(self):
        return f"{self.number} {self.title}"


class NcLot(models.Model):
    """A lot concerned by an NC and how much of it is nonconforming."""

    nc = models.ForeignKey(Nonconformance, on_delete=models.CASCADE, related_name="lots", verbose_name=_("NC"))
    lot = models.ForeignKey("traceability.Lot", on_delete=models.PROTECT, related_name="nc_entries",
                            verbose_name=_("lot"))
    quantity = models.FloatField(_("nonconforming quantity"))
    unit = models.CharField(_("unit"), max_length=16, blank=True, default="pcs")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["nc", "lot"], name="nc_lot_unique")]
        verbose_name = _("NC lot")
        verbose_name_plural = _("NC lots")

    def __str__(self):
        return f"{self.nc_id}: {self.lot_id} × {self.quantity}"


class Attachment(models.Model):
    """A photo or file attached to an NC or a CAPA (type and size checked by the service)."""

    id = models.BigAutoField(primary_key=True)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+", verbose_name=_("site"))
    record_model = models.CharField(_("record type"), max_length=100)
    record_pk = models.CharField(_("record"), max_length=64)
    file = models.FileField(_("file"), upload_to="attachments/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("uploaded by"))
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        ordering = ["uploaded_at"]
        indexes = [models.Index(fields=["record_model", "record_pk"], name="attachment_record")]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self):
        return self.original_name


class Disposition(models.Model):
    """What is done with (a quantity of) a lot of an NC. Decided alone or by the MRB, each approval e-signed."""

    class Decision(models.TextChoices):
        USE_AS_IS = "use_as_is", _("use as is")
        REWORK = "rework", _("rework")
        REPAIR = "repair", _("repair")
        SCRAP = "scrap", _("scrap")
        RETURN_TO_VENDOR = "return_to_vendor", _("return to vendor")
        DOWNGRADE = "downgrade", _("downgrade")

    class State(models.TextChoices):
        PROPOSED = "proposed", _("proposed")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")

    nc = models.ForeignKey(Nonconformance, on_delete=models.PROTECT, related_name="dispositions",
                           verbose_name=_("NC"))
    nc_lot = models.ForeignKey(NcLot, on_delete=models.PROTECT, null=True, blank=True, related_name="dispositions",
                               verbose_name=_("lot"))
    decision = models.CharField(_("decision"), max_length=20, choices=Decision.choices)
    quantity = models.FloatField(_("quantity"))
    rationale = models.TextField(_("rationale"), blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PROPOSED)
    approvals_required = models.PositiveSmallIntegerField(_("approvals required"), default=1)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("proposed by"))
    proposed_at = models.DateTimeField(_("proposed at"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    history = HistoricalRecords(bases=[ActorStampedHistory])

    class Meta:
        ordering = ["nc", "proposed_at"]
        permissions = [("approve_disposition", _("Can approve dispositions as a member of the material review board"))]
        verbose_name = _("disposition")
        verbose_name_plural = _("dispositions")

    def __str__(self):
        return f"{self.get_decision_display()} × {self.quantity}"


class DispositionApproval(models.Model):
    """One MRB member's e-signed vote on a disposition."""

    class Vote(models.TextChoices):
        APPROVE = "approve", _("approve")
        REJECT = "reject", _("reject")

    disposition = models.ForeignKey(Disposition, on_delete=models.PROTECT, related_name="approvals",
                                    verbose_name=_("disposition"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("approver"))
    vote = models.CharField(_("vote"), max_length=8, choices=Vote.choices)
    comment = models.CharField(_("comment"), max_length=500, blank=True)
    signature = models.ForeignKey(ESignature, on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("signature"))
    at = models.DateTimeField(_("time"))

    class Meta:
        ordering = ["at"]
        constraints = [models.UniqueConstraint(fields=["disposition", "user"], name="disposition_one_vote_per_user")]
        verbose_name = _("disposition approval")
        verbose_name_plural = _("disposition approvals")

    def __str__(self):
        return f"{self.user_id} {self.vote}"
