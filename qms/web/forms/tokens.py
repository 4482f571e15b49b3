from django import forms
from django.utils.translation import gettext_lazy as _

from qms.models import ApiToken
from qms.web.forms.common import ReasonField


class TokenCreateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100,
                           help_text=_("Which machine or system uses it, e.g. MES-1 or LINE2-GATEWAY."))
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"), choices=ApiToken.Scope.choices, widget=forms.CheckboxSelectMultiple, required=False,
        help_text=_("Grant only what the client needs. Reading the data dictionary needs no scope."),
    )
    expires_at = forms.DateTimeField(
        label=_("Expires at"), required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Optional. Leave empty for a token that lives until it is revoked."),
    )


class TokenRevokeForm(forms.Form):
    reason = ReasonField()
