from __future__ import annotations

import json

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from qms.models import DeadLetter
from qms.web.forms.common import ReasonField


class DeadLetterFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(label=_("Status"), choices=DeadLetter.Status.choices, empty_label=_("All"))
    code = django_filters.ChoiceFilter(label=_("Error code"), empty_label=_("All error codes"))
    characteristic = django_filters.CharFilter(
        label=_("Characteristic"), field_name="payload__characteristic", lookup_expr="icontains")
    source = django_filters.CharFilter(label=_("Source"), lookup_expr="icontains")

    class Meta:
        model = DeadLetter
        fields: list[str] = []

    def __init__(self, data=None, *args, **kwargs):
        if data is not None and "status" not in data:
            data = data.copy()
            data["status"] = DeadLetter.Status.OPEN  # what needs work is what one opens the page for
        super().__init__(data, *args, **kwargs)
        codes = self.queryset.order_by().values_list("code", flat=True).distinct()
        self.filters["code"].extra["choices"] = [(code, code) for code in sorted(codes)]


class ReplayForm(forms.Form):
    payload = forms.CharField(
        label=_("Payload (JSON)"), widget=forms.Textarea(attrs={"rows": 12, "class": "code", "spellcheck": "false"}),
        help_text=_("Correct the item here, then replay it. It is checked against the data dictionary exactly like "
                    "a live batch."),
    )

    def __init__(self, *args, letter: DeadLetter, **kwargs):
        super().__init__(*args, **kwargs)
        self.letter = letter
        if not self.is_bound:
            self.initial["payload"] = json.dumps(letter.payload, ensure_ascii=False, indent=2, sort_keys=True)

    def clean_payload(self):
        try:
            payload = json.loads(self.cleaned_data["payload"])
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(_("Not valid JSON: %(error)s (line %(line)d, column %(column)d).") % {
                "error": exc.msg, "line": exc.lineno, "column": exc.colno}) from None
        if not isinstance(payload, dict):
            raise forms.ValidationError(_("The payload must be a JSON object, like the original item."))
        return payload

    def corrected_payload(self) -> dict | None:
        """None when the payload is as it arrived: the replay is then recorded as unchanged."""
        payload = self.cleaned_data["payload"]
        return None if payload == self.letter.payload else payload


class DiscardForm(forms.Form):
    note = ReasonField(label=_("Why discard it"),
                       help_text=_("E.g. a test value sent by mistake. Nothing is stored; the note is kept."))


class BulkActionForm(forms.Form):
    ACTIONS = (("replay", _("Replay unchanged")), ("discard", _("Discard")))

    action = forms.ChoiceField(label=_("Action"), choices=ACTIONS)
    letters = forms.ModelMultipleChoiceField(queryset=DeadLetter.objects.none(), widget=forms.MultipleHiddenInput)
    note = forms.CharField(label=_("Note (required to discard)"), required=False, max_length=1000)

    def __init__(self, *args, site, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["letters"].queryset = DeadLetter.objects.filter(site=site, status=DeadLetter.Status.OPEN)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("action") == "discard" and not (cleaned.get("note") or "").strip():
            self.add_error("note", _("Say why the items are discarded."))
        return cleaned
