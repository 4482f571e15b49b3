from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.forms.models import fields_for_model
from django.utils.translation import gettext_lazy as _

from qms.models import Characteristic, Equipment, Operation
from qms.services import dictionary_io
from qms.services.dictionary import EDITABLE_FIELDS
from qms.web.forms.common import ReasonField

# How the edit form groups the fields, in reading order.
FIELDSETS = (
    (_("Identity"), ("code", "name_en", "name_zh", "equipment", "operation", "criticality", "status")),
    (_("Values"), ("unit", "data_type", "precision", "precision_policy", "update_period_s", "subgroup_size")),
    (_("Limits"), ("physical_min", "lsl", "nominal", "usl", "physical_max")),
)

HELP_TEXTS = {
    "code": _("Must follow the site's naming rule, e.g. IMM01.BARREL_Z2.TEMP."),
    "precision": _("Decimal places a value may carry."),
    "precision_policy": _("What happens to a value with more decimals than the precision allows."),
    "physical_min": _("Values outside the physical range are rejected as implausible."),
    "update_period_s": _("How often a new value is expected, in seconds."),
    "subgroup_size": _("Number of values per subgroup on the control chart (1 = individual values)."),
}


class CharacteristicForm(forms.Form):
    """Reads the editable fields of a data-dictionary entry; the dictionary service validates and saves them."""

    def __init__(self, *args, site, instance: Characteristic | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.site = site
        self.instance = instance
        self.fields.update(fields_for_model(Characteristic, fields=EDITABLE_FIELDS, help_texts=HELP_TEXTS))
        self.fields["equipment"].queryset = Equipment.objects.filter(site=site).order_by("code")
        self.fields["operation"].queryset = Operation.objects.filter(product__site=site).select_related("product")
        self.fields["operation"].label_from_instance = lambda op: f"{op.reference} {op.name}".strip()
        for name in ("precision", "subgroup_size"):
            self.fields[name].required = False
        if instance is None:
            self.fields["status"].choices = [
                choice for choice in self.fields["status"].choices if choice[0] != Characteristic.Status.RETIRED
            ]
        else:
            self.fields["version"] = forms.IntegerField(widget=forms.HiddenInput)
            self.fields["reason"] = ReasonField(
                required=False, label=_("Reason for the change"),
                help_text=_("Required when you change how a released entry judges data (limits, unit, precision, "
                            "status…). It is recorded in the audit trail."),
            )
            if not self.is_bound:
                self.initial.update({name: getattr(instance, name) for name in EDITABLE_FIELDS})
                self.initial["version"] = instance.version

    def fieldsets(self):
        return [(title, [self[name] for name in names]) for title, names in FIELDSETS]

    def service_data(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in EDITABLE_FIELDS}


class RetireForm(forms.Form):
    reason = ReasonField(help_text=_("Why this characteristic is taken out of use. Its data and history stay."))


class DeleteForm(forms.Form):
    reason = ReasonField(required=False, help_text=_("Required for entries that were released."))


class CharacteristicFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Code or name"), method="search")
    equipment = django_filters.ModelChoiceFilter(
        label=_("Equipment"), queryset=Equipment.objects.none(), empty_label=_("All equipment"))
    criticality = django_filters.ChoiceFilter(
        label=_("Criticality"), choices=Characteristic.Criticality.choices, empty_label=_("All"))
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=Characteristic.Status.choices, empty_label=_("All"))
    o = django_filters.OrderingFilter(fields=(
        ("code", "code"), ("name_en", "name"), ("unit", "unit"), ("equipment__code", "equipment"),
        ("criticality", "criticality"), ("status", "status"), ("version", "version"), ("updated_at", "updated_at"),
    ))

    class Meta:
        model = Characteristic
        fields: list[str] = []

    def __init__(self, *args, site, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["equipment"].queryset = Equipment.objects.filter(site=site).order_by("code")

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(code__icontains=value) | Q(name_en__icontains=value) | Q(name_zh__icontains=value))


class ImportUploadForm(forms.Form):
    """Takes the file; reading and checking its content is the import service's job (its preview lists problems)."""

    FORMATS = (("", _("From the file name")), ("csv", "CSV"), ("json", "JSON"))

    file = forms.FileField(label=_("File"), help_text=_("CSV or JSON as the export produces it (UTF-8, at most 5 MB)."))
    fmt = forms.ChoiceField(label=_("Format"), choices=FORMATS, required=False)

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("file")
        if upload is None:
            return cleaned
        if upload.size > dictionary_io.MAX_IMPORT_BYTES:
            raise forms.ValidationError({"file": _("The file is larger than %(limit)d MB; split it into several imports.")
                                         % {"limit": dictionary_io.MAX_IMPORT_BYTES // (1024 * 1024)}})
        fmt = cleaned.get("fmt") or upload.name.rsplit(".", 1)[-1].lower()
        if fmt not in dictionary_io.FORMATS:
            raise forms.ValidationError({"fmt": _("Choose CSV or JSON: the file name does not say which it is.")})
        cleaned["fmt"] = fmt
        cleaned["content"] = upload.read()
        return cleaned


class ImportConfirmForm(forms.Form):
    reason = ReasonField(help_text=_("Why the dictionary is changed by this import; recorded for every entry."))
