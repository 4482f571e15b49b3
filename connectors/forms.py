"""Forms of the connector pages. Rules live in connectors.configuration; forms only parse what people type."""
from __future__ import annotations

import json

from django import forms
from django.utils.translation import gettext_lazy as _

from connectors.models import Connector
from qms.web.forms.common import ReasonField


class JSONTextField(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 8, "class": "mono", "spellcheck": "false"})

    def to_python(self, value):
        text = (super().to_python(value) or "").strip()
        if not text:
            return {}
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(_("Not valid JSON: %(error)s") % {"error": exc}) from exc
        if not isinstance(parsed, dict):
            raise forms.ValidationError(_("Must be a JSON object: {\"key\": value, …}"))
        return parsed


class ConnectorForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=64,
                           help_text=_("Unique per site; stored measurements name it as their source."))
    kind = forms.ChoiceField(label=_("Kind"), choices=Connector.Kind.choices)
    description = forms.CharField(label=_("Description"), max_length=300, required=False)
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)
    shadow_mode = forms.BooleanField(
        label=_("Shadow mode"), required=False,
        help_text=_("Write-back commands are computed and shown but never sent (parallel run beside the old system)."))
    runner_group = forms.CharField(label=_("Runner group"), max_length=64, required=False)
    config = JSONTextField(label=_("Configuration (JSON)"), required=False,
                           help_text=_("Options of this kind, e.g. {\"endpoint\": \"opc.tcp://10.0.0.5:4840/\"}. "
                                       "See the connector documentation for every option."))
    password = forms.CharField(label=_("Password"), required=False, widget=forms.PasswordInput(render_value=False),
                               help_text=_("Leave empty to keep the stored password."))
    hmac_secret = forms.CharField(label=_("HMAC secret (webhooks)"), required=False,
                                  widget=forms.PasswordInput(render_value=False),
                                  help_text=_("Leave empty to keep the stored secret."))
    reason = ReasonField()

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["kind"].disabled = True

    def service_data(self) -> dict:
        data = {key: self.cleaned_data[key] for key in
                ("name", "kind", "description", "enabled", "shadow_mode", "runner_group", "config")}
        secrets = {key: self.cleaned_data[key] for key in ("password", "hmac_secret") if self.cleaned_data.get(key)}
        if secrets:
            data["secrets"] = secrets
        return data


class TagsForm(forms.Form):
    """Tag mappings as text, one per line: CHARACTERISTIC SOURCE_REF [JSON params]."""

    tags = forms.CharField(
        label=_("Tag mappings"), required=False,
        widget=forms.Textarea(attrs={"rows": 14, "class": "mono", "spellcheck": "false"}),
        help_text=_("One per line: characteristic code, source reference, optional JSON parameters, separated by "
                    "spaces — e.g. IMM01.BARREL_Z2.TEMP ns=2;s=IMM01/Zone2 {\"deadband\": 0.5}"))
    reason = ReasonField()

    def clean_tags(self) -> list[dict]:
        tags = []
        for number, line in enumerate((self.cleaned_data.get("tags") or "").splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 2)
            if len(parts) < 2:
                raise forms.ValidationError(_("Line %(line)d: give a characteristic and a source reference.")
                                            % {"line": number})
            params = {}
            if len(parts) == 3:
                try:
                    params = json.loads(parts[2])
                except ValueError as exc:
                    raise forms.ValidationError(_("Line %(line)d: the parameters are not valid JSON (%(error)s).")
                                                % {"line": number, "error": exc}) from exc
            tags.append({"characteristic": parts[0], "source_ref": parts[1], "params": params})
        return tags


def tags_as_text(connector: Connector) -> str:
    lines = []
    for tag in connector.tags.select_related("characteristic").order_by("characteristic__code"):
        params = f" {json.dumps(tag.params, sort_keys=True)}" if tag.params else ""
        lines.append(f"{tag.characteristic.code} {tag.source_ref}{params}")
    return "\n".join(lines)


class MapNodeForm(forms.Form):
    node_id = forms.CharField(widget=forms.HiddenInput)
    characteristic = forms.CharField(label=_("Characteristic"))
    reason = ReasonField()
