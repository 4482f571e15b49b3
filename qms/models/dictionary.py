"""The data dictionary — the unified data exchange standard every reading is normalised against."""
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .plant import Equipment, Operation, Site


class Characteristic(models.Model):
    class DataType(models.TextChoices):
        FLOAT = "float", _("decimal number")
        INTEGER = "int", _("integer")
        BOOLEAN = "bool", _("yes/no")

    class PrecisionPolicy(models.TextChoices):
        ROUND = "round", _("round to the dictionary precision")
        REJECT = "reject", _("reject values with more decimals")

    class Criticality(models.TextChoices):
        STANDARD = "standard", _("standard")
        CTQ = "ctq", _("critical to quality (CTQ)")
        SPECIAL = "special", _("special characteristic")

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        RELEASED = "released", _("released")
        RETIRED = "retired", _("retired")

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="characteristics", verbose_name=_("site"))
    code = models.CharField(_("code"), max_length=128)
    name_en = models.CharField(_("name (English)"), max_length=200)
    name_zh = models.CharField(_("name (Simplified Chinese)"), max_length=200, blank=True)
    unit = models.CharField(_("unit"), max_length=32, blank=True)
    data_type = models.CharField(_("data type"), max_length=8, choices=DataType.choices, default=DataType.FLOAT)
    precision = models.PositiveSmallIntegerField(_("precision (decimal places)"), default=2)
    precision_policy = models.CharField(
        _("precision policy"), max_length=8, choices=PrecisionPolicy.choices, default=PrecisionPolicy.ROUND
    )
    physical_min = models.FloatField(_("physical minimum"), null=True, blank=True)
    physical_max = models.FloatField(_("physical maximum"), null=True, blank=True)
    nominal = models.FloatField(_("nominal"), null=True, blank=True)
    lsl = models.FloatField(_("lower specification limit"), null=True, blank=True)
    usl = models.FloatField(_("upper specification limit"), null=True, blank=True)
    update_period_s = models.FloatField(_("expected update period (s)"), null=True, blank=True)
    subgroup_size = models.PositiveSmallIntegerField(_("subgroup size"), default=1)
    criticality = models.CharField(
        _("criticality"), max_length=8, choices=Criticality.choices, default=Criticality.STANDARD
    )
    equipment = models.ForeignKey(
        Equipment, on_delete=models.PROTECT, null=True, blank=True, related_name="characteristics",
        verbose_name=_("equipment"),
    )
    operation = models.ForeignKey(
        Operation, on_delete=models.PROTECT, null=True, blank=True, related_name="characteristics",
        verbose_name=_("operation"),
    )
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.RELEASED)
    version = models.PositiveIntegerField(_("version"), default=1)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    history = HistoricalRecords()

    # Changing any of these on a released entry changes how data is judged: a reason is mandatory.
    JUDGEMENT_FIELDS = (
        "unit", "data_type", "precision", "precision_policy", "physical_min", "physical_max",
        "nominal", "lsl", "usl", "subgroup_size", "criticality", "status",
    )

    class Meta:
        ordering = ["site__code", "code"]
        constraints = [
            models.UniqueConstraint(fields=["site", "code"], name="characteristic_code_unique_per_site"),
        ]
        verbose_name = _("characteristic")
        verbose_name_plural = _("characteristics")

    def __str__(self):
        return self.code

    @property
    def name(self) -> str:
        language = (get_language() or "en").lower()
        if language.startswith("zh") and self.name_zh:
            return self.name_zh
        return self.name_en

    def clean(self):
        errors = {}
        if self.physical_min is not None and self.physical_max is not None and self.physical_min > self.physical_max:
            errors["physical_max"] = _("The physical maximum must not be below the physical minimum.")
        if self.lsl is not None and self.usl is not None and self.lsl >= self.usl:
            errors["usl"] = _("The upper specification limit must be above the lower one.")
        if self.nominal is not None:
            if self.lsl is not None and self.nominal < self.lsl:
                errors["nominal"] = _("The nominal lies below the lower specification limit.")
            if self.usl is not None and self.nominal > self.usl:
                errors["nominal"] = _("The nominal lies above the upper specification limit.")
        if self.subgroup_size < 1 or self.subgroup_size > 25:
            errors["subgroup_size"] = _("The subgroup size must be between 1 and 25.")
        if self.precision > 9:
            errors["precision"] = _("At most 9 decimal places are supported.")
        if errors:
            raise ValidationError(errors)
