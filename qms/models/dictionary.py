"""The data dictionary — the unified data exchange standard every reading is normalised against."""
import math

from django.core.exceptions import ValidationError
from django.db import models
from django.dispatch import receiver
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record

from qms.audit.context import current_actor

from .plant import Equipment, Operation, Site


class ActorStampedHistory(models.Model):
    """Extra column on historical records: who acted, also when it was a machine token (history_user is a User FK)."""

    history_actor = models.CharField(_("changed by"), max_length=150, blank=True, default="")

    class Meta:
        abstract = True


# Built once: lazy strings cost ~10 µs each to create, and an import checks 10,000 entries (translated when shown).
_BELOW_PHYSICAL_MIN = {
    "lsl": _("The lower specification limit lies below the physical minimum %(limit)s."),
    "usl": _("The upper specification limit lies below the physical minimum %(limit)s."),
    "nominal": _("The nominal lies below the physical minimum %(limit)s."),
}
_ABOVE_PHYSICAL_MAX = {
    "lsl": _("The lower specification limit lies above the physical maximum %(limit)s."),
    "usl": _("The upper specification limit lies above the physical maximum %(limit)s."),
    "nominal": _("The nominal lies above the physical maximum %(limit)s."),
}


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
    history = HistoricalRecords(bases=[ActorStampedHistory])

    # Changing any of these on a released entry changes how data is judged (or, for the code, which readings map to
    # it): a reason is mandatory.
    JUDGEMENT_FIELDS = (
        "code", "unit", "data_type", "precision", "precision_policy", "physical_min", "physical_max",
        "nominal", "lsl", "usl", "subgroup_size", "criticality", "status",
    )
    NUMERIC_FIELDS = ("physical_min", "physical_max", "nominal", "lsl", "usl", "update_period_s")

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
        for field in self.NUMERIC_FIELDS:
            value = getattr(self, field)
            if isinstance(value, float) and not math.isfinite(value):
                errors[field] = _("Must be a finite number.")
        if errors:
            raise ValidationError(errors)
        self._check_ranges(errors)
        if self.update_period_s is not None and self.update_period_s <= 0:
            errors["update_period_s"] = _("The expected update period must be positive.")
        if self.subgroup_size < 1 or self.subgroup_size > 25:
            errors["subgroup_size"] = _("The subgroup size must be between 1 and 25.")
        if self.precision > 9:
            errors["precision"] = _("At most 9 decimal places are supported.")
        if errors:
            raise ValidationError(errors)

    def _check_ranges(self, errors: dict) -> None:
        """physical_min ≤ LSL ≤ nominal ≤ USL ≤ physical_max, for whichever of them are set (LSL < USL strictly)."""
        low, high = self.physical_min, self.physical_max
        if low is not None and high is not None and low > high:
            errors["physical_max"] = _("The physical maximum must not be below the physical minimum.")
        if self.lsl is not None and self.usl is not None and self.lsl >= self.usl:
            errors["usl"] = _("The upper specification limit must be above the lower one.")
        below, above = _BELOW_PHYSICAL_MIN, _ABOVE_PHYSICAL_MAX
        for field in ("lsl", "usl", "nominal"):
            value = getattr(self, field)
            if value is None or field in errors:
                continue
            if low is not None and value < low:
                errors[field] = below[field] % {"limit": low}
            elif high is not None and value > high:
                errors[field] = above[field] % {"limit": high}
        if self.nominal is not None and "nominal" not in errors:
            if self.lsl is not None and self.nominal < self.lsl:
                errors["nominal"] = _("The nominal lies below the lower specification limit.")
            if self.usl is not None and self.nominal > self.usl:
                errors["nominal"] = _("The nominal lies above the upper specification limit.")


@receiver(pre_create_historical_record, sender=Characteristic.history.model)
def stamp_history_actor(sender, history_instance, **kwargs):
    history_instance.history_actor = current_actor().label[:150]
