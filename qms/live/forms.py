"""Forms of the alarm detail page; the alarm services check the rules (reason given, expiry in range, ...)."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class AcknowledgeForm(forms.Form):
    comment = forms.CharField(label=_("Comment"), max_length=500, required=False,
                              widget=forms.TextInput(attrs={"placeholder": _("What you are doing about it")}))


class ShelveForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500,
                             widget=forms.TextInput(attrs={"placeholder": _("e.g. sensor being replaced")}))
    until = forms.DateTimeField(label=_("Shelved until"), input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
                                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
                                help_text=_("Plant time. At most 24 hours ahead."))


class ClearForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False,
                             widget=forms.TextInput(attrs={"placeholder": _("e.g. temperature back within limits")}))


class CloseForm(forms.Form):
    comment = forms.CharField(label=_("Comment"), max_length=500, required=False)
