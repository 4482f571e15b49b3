"""The ISA-95 plant model: Site → Area → Line → Work center → Equipment, plus products and routing operations."""
import re

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

DEFAULT_NAMING_RULE = r"^[A-Z][A-Z0-9_]*(\.[A-Z][A-Z0-9_]*){2,4}$"


def validate_regex(value: str) -> None:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValidationError(_("Not a valid regular expression: %(error)s"), params={"error": exc}) from exc


class Site(models.Model):
    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200)
    timezone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")
    naming_rule = models.CharField(
        _("characteristic naming rule"),
        max_length=300,
        default=DEFAULT_NAMING_RULE,
        validators=[validate_regex],
        help_text=_("Regular expression every data-dictionary code of this site must match."),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        verbose_name = _("site")
        verbose_name_plural = _("sites")

    def __str__(self):
        return self.code

    def follows_naming_rule(self, code: str) -> bool:
        """Whether a data-dictionary code matches this site's naming rule (the whole code, not a prefix)."""
        return re.fullmatch(self.naming_rule, code) is not None

    def clean(self):
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            raise ValidationError({"timezone": _("Unknown time zone: %(tz)s") % {"tz": self.timezone}}) from None


class Area(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="areas", verbose_name=_("site"))
    code = models.CharField(_("code"), max_length=32)
    name = models.CharField(_("name"), max_length=200, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["site__code", "code"]
        constraints = [models.UniqueConstraint(fields=["site", "code"], name="area_code_unique_per_site")]
        verbose_name = _("area")
        verbose_name_plural = _("areas")

    def __str__(self):
        return f"{self.site.code}/{self.code}"


class Line(models.Model):
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="lines", verbose_name=_("area"))
    code = models.CharField(_("code"), max_length=32)
    name = models.CharField(_("name"), max_length=200, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["area__site__code", "code"]
        constraints = [models.UniqueConstraint(fields=["area", "code"], name="line_code_unique_per_area")]
        verbose_name = _("line")
        verbose_name_plural = _("lines")

    def __str__(self):
        return self.code

    @property
    def site(self):
        return self.area.site


class WorkCenter(models.Model):
    line = models.ForeignKey(Line, on_delete=models.PROTECT, related_name="work_centers", verbose_name=_("line"))
    code = models.CharField(_("code"), max_length=32)
    name = models.CharField(_("name"), max_length=200, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["line", "code"], name="workcenter_code_unique_per_line")]
        verbose_name = _("work center")
        verbose_name_plural = _("work centers")

    def __str__(self):
        return self.code


class Equipment(models.Model):
    """A machine. `site` is denormalised from the hierarchy so MES codes resolve with one indexed lookup."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="equipment", verbose_name=_("site"))
    work_center = models.ForeignKey(
        WorkCenter, on_delete=models.PROTECT, related_name="equipment", verbose_name=_("work center")
    )
    code = models.CharField(_("code"), max_length=32)
    name = models.CharField(_("name"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=64, blank=True, help_text=_("e.g. injection moulding machine"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["site__code", "code"]
        constraints = [
            models.UniqueConstraint(fields=["work_center", "code"], name="equipment_code_unique_per_workcenter"),
            # MES sends bare equipment codes: they must be unambiguous within a site.
            models.UniqueConstraint(fields=["site", "code"], name="equipment_code_unique_per_site"),
        ]
        verbose_name = _("equipment")
        verbose_name_plural = _("equipment")

    def __str__(self):
        return self.code

    def clean(self):
        if self.work_center_id and self.site_id and self.work_center.line.area.site_id != self.site_id:
            raise ValidationError({"work_center": _("The work center belongs to another site.")})


class Product(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="products", verbose_name=_("site"))
    part_number = models.CharField(_("part number"), max_length=64)
    revision = models.CharField(_("revision"), max_length=16, default="A")
    name = models.CharField(_("name"), max_length=200, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["part_number", "revision"]
        constraints = [
            models.UniqueConstraint(fields=["site", "part_number", "revision"], name="product_pn_rev_unique_per_site")
        ]
        verbose_name = _("product")
        verbose_name_plural = _("products")

    def __str__(self):
        return f"{self.part_number} rev {self.revision}"


class Operation(models.Model):
    """A routing step of a product."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="operations", verbose_name=_("product"))
    sequence = models.PositiveIntegerField(_("sequence"))
    code = models.CharField(_("code"), max_length=32)
    name = models.CharField(_("name"), max_length=200, blank=True)
    work_center = models.ForeignKey(
        WorkCenter, on_delete=models.PROTECT, null=True, blank=True, related_name="operations",
        verbose_name=_("work center"),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["product", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["product", "code"], name="operation_code_unique_per_product"),
            models.UniqueConstraint(fields=["product", "sequence"], name="operation_sequence_unique_per_product"),
        ]
        verbose_name = _("operation")
        verbose_name_plural = _("operations")

    def __str__(self):
        return f"{self.product.part_number}/{self.sequence:03d} {self.code}"

    @property
    def reference(self) -> str:
        """How the data dictionary and its files name an operation: part number/revision/operation code."""
        return f"{self.product.part_number}/{self.product.revision}/{self.code}"

    def clean(self):
        if self.work_center_id and self.product_id and self.work_center.line.area.site_id != self.product.site_id:
            raise ValidationError({"work_center": _("The work center belongs to another site than the product.")})
