"""Forms of the nonconformance pages: widgets only (no JSON); the services judge the content."""
from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from qms.models import (
    Characteristic,
    DefectCode,
    Disposition,
    DispositionApproval,
    Equipment,
    Line,
    Nonconformance,
    Operation,
    Product,
)
from qms.services.defect_codes import codes_for_site


class DefectCodeChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.code} — {obj.name_en} / {obj.name_zh}"


class NcFilterForm(forms.Form):
    state = forms.ChoiceField(label=_("State"), required=False,
                              choices=[("", _("any"))] + list(Nonconformance.State.choices))
    severity = forms.ChoiceField(label=_("Severity"), required=False,
                                 choices=[("", _("any"))] + list(Nonconformance.Severity.choices))
    source = forms.ChoiceField(label=_("Source"), required=False,
                               choices=[("", _("any"))] + list(Nonconformance.Source.choices))
    line = forms.ModelChoiceField(label=_("Line"), required=False, queryset=Line.objects.none())
    product = forms.ModelChoiceField(label=_("Product"), required=False, queryset=Product.objects.none())
    defect_code = forms.ModelChoiceField(label=_("Defect code"), required=False, queryset=DefectCode.objects.none())

    def __init__(self, *args, site, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["line"].queryset = Line.objects.filter(area__site=site).order_by("code")
        self.fields["product"].queryset = Product.objects.filter(site=site).order_by("part_number")
        self.fields["defect_code"].queryset = codes_for_site(site, include_inactive=True).order_by("code")


class NcForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    source = forms.ChoiceField(label=_("Source"), choices=Nonconformance.Source.choices)
    severity = forms.ChoiceField(label=_("Severity"), choices=Nonconformance.Severity.choices,
                                 initial=Nonconformance.Severity.MAJOR)
    product = forms.ModelChoiceField(label=_("Product"), required=False, queryset=Product.objects.none())
    line = forms.ModelChoiceField(label=_("Line"), required=False, queryset=Line.objects.none())
    equipment = forms.ModelChoiceField(label=_("Equipment"), required=False, queryset=Equipment.objects.none())
    operation = forms.ModelChoiceField(label=_("Operation"), required=False, queryset=Operation.objects.none())
    characteristic = forms.ModelChoiceField(label=_("Characteristic"), required=False,
                                            queryset=Characteristic.objects.none())
    detection_point = forms.CharField(label=_("Detection point"), max_length=200, required=False,
                                      help_text=_("Where it was found, e.g. final inspection, customer incoming."))
    defect_codes = DefectCodeChoiceField(label=_("Defect codes"), required=False, queryset=DefectCode.objects.none(),
                                         widget=forms.SelectMultiple(attrs={"size": 8}))
    lots = forms.CharField(label=_("Lots and nonconforming quantities"), required=False,
                           widget=forms.Textarea(attrs={"rows": 3}),
                           help_text=_("One lot per line: lot code, a space, the quantity (e.g. L-2026-0042 120)."))
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 4}))
    containment = forms.CharField(label=_("Containment actions"), required=False,
                                  widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, site, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = Product.objects.filter(site=site).order_by("part_number")
        self.fields["line"].queryset = Line.objects.filter(area__site=site).order_by("code")
        self.fields["equipment"].queryset = Equipment.objects.filter(site=site).order_by("code")
        self.fields["operation"].queryset = Operation.objects.filter(product__site=site).order_by("product", "sequence")
        self.fields["characteristic"].queryset = Characteristic.objects.filter(site=site).order_by("code")
        self.fields["defect_codes"].queryset = codes_for_site(site)

    def clean_lots(self) -> list[tuple[str, str]]:
        rows = []
        for number, line in enumerate((self.cleaned_data.get("lots") or "").splitlines(), start=1):
            parts = line.replace(",", " ").replace(";", " ").split()
            if not parts:
                continue
            if len(parts) != 2:
                raise ValidationError(_("Line %(n)d: write the lot code and the quantity, e.g. L-1 120.") % {"n": number})
            rows.append((parts[0], parts[1]))
        return rows

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data["defect_codes"] = list(data["defect_codes"])
        return data


def lots_as_text(nc) -> str:
    return "\n".join(f"{entry.lot.code} {entry.quantity:g}" for entry in nc.lots.select_related("lot"))


class NcEditForm(NcForm):
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, lots_editable: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not lots_editable:
            del self.fields["lots"]


class SignatureForm(forms.Form):
    password = forms.CharField(label=_("Your password"), widget=forms.PasswordInput, required=False, strip=False)
    meaning = forms.CharField(label=_("Meaning of the signature"), max_length=300, required=False)


class CloseForm(SignatureForm):
    # The NC version the signer reviewed: a change after the page was loaded refuses the signature (stale).
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)


class ProposeForm(forms.Form):
    nc_lot = forms.IntegerField(label=_("Lot"), widget=forms.Select)
    decision = forms.ChoiceField(label=_("Decision"), choices=Disposition.Decision.choices)
    quantity = forms.FloatField(label=_("Quantity"), min_value=0)
    rationale = forms.CharField(label=_("Rationale"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, nc=None, **kwargs):
        super().__init__(*args, **kwargs)
        if nc is not None:
            self.fields["nc_lot"].widget.choices = [
                (entry.pk, f"{entry.lot.code} ({entry.quantity:g} {entry.unit})")
                for entry in nc.lots.select_related("lot").order_by("lot__code")]


class VoteForm(SignatureForm):
    vote = forms.ChoiceField(label=_("Vote"), choices=DispositionApproval.Vote.choices)
    comment = forms.CharField(label=_("Comment"), max_length=500, required=False)
    # The NC version the voter reviewed on the page (as CloseForm): a change since refuses the vote (stale).
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class AttachmentForm(forms.Form):
    file = forms.FileField(label=_("File"), help_text=_("Photo (JPEG, PNG, WebP), PDF, CSV, text or Excel."))


class DefectCodeForm(forms.Form):
    code = forms.CharField(label=_("Code"), max_length=32)
    name_en = forms.CharField(label=_("Name (English)"), max_length=200)
    name_zh = forms.CharField(label=_("Name (Chinese)"), max_length=200)
    parent = forms.ModelChoiceField(label=_("Category"), required=False, queryset=DefectCode.objects.none())
    unit_cost = forms.DecimalField(label=_("Cost per defective unit"), required=False, min_value=0,
                                   decimal_places=2, max_digits=12)
    shared = forms.BooleanField(label=_("Shared by every site"), required=False)

    def __init__(self, *args, site, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent"].queryset = codes_for_site(site)
        self.fields["parent"].label_from_instance = lambda obj: f"{obj.code} — {obj.name_en} / {obj.name_zh}"


__all__ = ["AttachmentForm", "CancelForm", "DefectCodeForm", "NcEditForm", "NcFilterForm", "NcForm", "ProposeForm",
           "SignatureForm", "VoteForm", "lots_as_text"]
