from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: under the (visible) field it names, else at the top of the form."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            target = field if field in form.fields and not form.fields[field].widget.is_hidden else None
            for message in messages:
                if target is None and field not in ("__all__", None) and field not in form.fields:
                    message = f"{field}: {message}"
                form.add_error(target, message)
    else:
        for message in error.messages:
            form.add_error(None, message)


class ReasonField(forms.CharField):
    """Why a change is made: recorded in the audit trail next to who and when."""

    def __init__(self, *, required: bool = True, **kwargs):
        kwargs.setdefault("label", _("Reason"))
        kwargs.setdefault("max_length", 1000)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 2}))
        super().__init__(required=required, **kwargs)

    def clean(self, value):
        return super().clean(value.strip() if isinstance(value, str) else value)


class DateInput(forms.DateInput):
    input_type = "date"
