"""8D CAPA: the record, its nine steps (D0–D8) with their content and e-signed approvals, root causes (5M1E), and
the effectiveness check against live data. Transitions go through `qms.services.capa` only; required content per
step is checked by the pure module `qms.capa_rules`."""
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from .dictionary import ActorStampedHistory, Characteristic
from .esign import ESignature
from .nc import Nonconformance
from .plant import Line, Product, Site


class Capa(models.Model):
    class State(models.TextChoices):
        OPEN = "open", _("open")
        CLOSED = "closed", _("closed")
        CANCELLED = "cancelled", _("cancelled")

    class Effectiveness(models.TextChoices):
        UNKNOWN = "unknown", _("not checked")
        EFFECTIVE = "effective", _("effective")
        NOT_YET = "not_yet", _("not yet effective")

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="capas", verbose_name=_("site"))
    number = models.CharField(_("number"), max_length=32)
    title = models.CharField(_("title"), max_length=200)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN)
    nonconformances = models.ManyToManyField(Nonconformance, blank=True, related_name="capas",
                                             verbose_name=_("nonconformances"))
    champion = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+", verbose_name=_("champion"))
    team = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name=_("team"))
    # Scope of the defect rate compared before/after (docs/capa.md, "Effectiveness"); taken from the first NC.
    product = models.ForeignKey(Product, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                verbose_name=_("product"))
    line = models.ForeignKey(Line, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                             verbose_name=_("line"))
    cancel_reason = models.CharField(_("reason for cancelling"), max_length=500, blank=True)
    closed_signature = models.ForeignKey(ESignature, on_delete=models.PROTECT, null=True, blank=True,
                                         related_name="+", verbose_name=_("closing signature"))
    # Effectiveness: which characteristics the fix should improve, and the periods compared.
    characteristics = models.ManyToManyField(Characteristic, blank=True, related_name="capas",
                                             verbose_name=_("characteristics to improve"))
    baseline_start = models.DateTimeField(_("before: from"), null=True, blank=True)
    baseline_end = models.DateTimeField(_("before: until"), null=True, blank=True)
    effective_from = models.DateTimeField(_("after: from"), null=True, blank=True,
                                          help_text=_("When the permanent fix took effect."))
    effectiveness = models.CharField(_("effectiveness"), max_length=10, choices=Effectiveness.choices,
                                     default=Effectiveness.UNKNOWN)
    effectiveness_checked_at = models.DateTimeField(_("effectiveness checked at"), null=True, blank=True)
    effectiveness_data = models.JSONField(_("effectiveness figures"), default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    history = HistoricalRecords(bases=[ActorStampedHistory])

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["site", "number"], name="capa_number_unique_per_site")]
        verbose_name = _("CAPA (8D)")
        verbose_name_plural = _("CAPAs (8D)")

    def __str__(self):
        return f"{self.number} {self.title}"


class CapaStep(models.Model):
    class Step(models.TextChoices):
        D0 = "D0", _("D0 symptom and emergency response")
        D1 = "D1", _("D1 team")
        D2 = "D2", _("D2 problem description (5W2H)")
        D3 = "D3", _("D3 interim containment")
        D4 = "D4", _("D4 root cause")
        D5 = "D5", _("D5 permanent corrective actions")
        D6 = "D6", _("D6 implementation")
        D7 = "D7", _("D7 prevent recurrence")
        D8 = "D8", _("D8 closure and recognition")

    class State(models.TextChoices):
        OPEN = "open", _("open")
        SUBMITTED = "submitted", _("submitted for approval")
        APPROVED = "approved", _("approved")

    capa = models.ForeignKey(Capa, on_delete=models.CASCADE, related_name="steps", verbose_name=_("CAPA"))
    step = models.CharField(_("step"), max_length=2, choices=Step.choices)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN)
    content = models.JSONField(_("content"), default=dict, blank=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+", verbose_name=_("submitted by"))
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    # Whoever last saved the content: may not approve the step either (separation of duties, docs/capa.md).
    last_saved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                      related_name="+", verbose_name=_("last saved by"))
    approved_signature = models.ForeignKey(ESignature, on_delete=models.PROTECT, null=True, blank=True,
                                           related_name="+", verbose_name=_("approval signature"))
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    reopen_reason = models.CharField(_("reason for reopening"), max_length=500, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    history = HistoricalRecords(bases=[ActorStampedHistory])

    class Meta:
        ordering = ["capa", "step"]
        constraints = [models.UniqueConstraint(fields=["capa", "step"], name="capa_step_unique")]
        permissions = [("approve_capastep", _("Can approve 8D steps with an e-signature"))]
        verbose_name = _("8D step")
        verbose_name_plural = _("8D steps")

    def __str__(self):
        return f"{self.capa_id} {self.step}"

    @property
    def audit_site_id(self):
        return self.capa.site_id


class RootCause(models.Model):
    """A cause on the fishbone (5M1E — 人机料法环测) with its 5-why chain."""

    class Category(models.TextChoices):
        MAN = "man", _("man")
        MACHINE = "machine", _("machine")
        MATERIAL = "material", _("material")
        METHOD = "method", pgettext_lazy("5M1E category", "method")  # not the SPC chart method
        ENVIRONMENT = "environment", _("environment")
        MEASUREMENT = "measurement", pgettext_lazy("5M1E category", "measurement")  # 测, not a measured value

    capa = models.ForeignKey(Capa, on_delete=models.CASCADE, related_name="root_causes", verbose_name=_("CAPA"))
    category = models.CharField(_("category (5M1E)"), max_length=12, choices=Category.choices)
    cause = models.CharField(_("cause"), max_length=500)
    whys = models.JSONField(_("why chain"), default=list, blank=True)
    is_root_cause = models.BooleanField(_("root cause"), default=False)
    verified = models.BooleanField(_("verified"), default=False)
    history = HistoricalRecords(bases=[ActorStampedHistory])

    class Meta:
        ordering = ["capa", "category", "id"]
        verbose_name = _("cause")
        verbose_name_plural = _("causes")

    def __str__(self):
        return self.cause

    @property
    def audit_site_id(self):
        return self.capa.site_id
