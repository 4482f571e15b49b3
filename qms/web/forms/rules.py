"""The reaction-rule form: real widgets for every field (multi-selects for the scope and groups, check boxes for run
rules and states), no JSON. The service validates; the form only reads the widgets."""
from __future__ import annotations

from django import forms
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _

from qms.models import Characteristic, Equipment, EquipmentStateEvent, Line, ReactionRule
from qms.models.alarms import Alarm
from qms.services.reaction_rules import spc_rule_names
from qms.web.forms.common import ReasonField

FIELDSETS = (
    (_("Rule"), ("name", "description", "enabled", "trigger", "severity")),
    (_("Trigger"), ("threshold", "spc_rules", "equipment_states")),
    (_("Scope (empty: the whole site)"), ("characteristics", "characteristic_pattern", "equipment", "lines")),
    (_("Freeze"), ("freeze", "freeze_from", "freeze_lookback_s", "freeze_propagate_forward")),
    (_("Other actions"), ("open_nc_draft", "notify_groups", "escalate_after_min", "escalation_groups")),
    (_("Hold command to MES"), ("hold_command", "writeback_connector", "writeback_target", "writeback_value")),
)
SCALAR_FIELDS = (
    "name", "description", "enabled", "trigger", "severity", "threshold", "characteristic_pattern", "freeze",
    "freeze_from", "freeze_lookback_s", "freeze_propagate_forward", "open_nc_draft", "escalate_after_min",
    "hold_command", "writeback_target",
)


class ReactionRuleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)
    trigger = forms.ChoiceField(label=_("Trigger"), choices=ReactionRule.Trigger.choices)
    severity = forms.ChoiceField(label=_("Alarm severity"), choices=Alarm.Severity.choices,
                                 initial=Alarm.Severity.MAJOR)
    threshold = forms.FloatField(label=_("Threshold ±X"), required=False,
                                 help_text=_("Deviation rules: |value − nominal| greater than this (in the "
                                             "characteristic's unit) trips the rule."))
    spc_rules = forms.MultipleChoiceField(label=_("SPC run rules"), required=False,
                                          widget=forms.CheckboxSelectMultiple,
                                          help_text=_("SPC rules: none ticked reacts to any signal."))
    equipment_states = forms.MultipleChoiceField(label=_("Equipment states"), required=False,
                                                 choices=EquipmentStateEvent.State.choices,
                                                 widget=forms.CheckboxSelectMultiple)
    characteristics = forms.ModelMultipleChoiceField(label=_("Characteristics"), required=False, queryset=None,
                                                     widget=forms.SelectMultiple(attrs={"size": 8}))
    characteristic_pattern = forms.CharField(label=_("Characteristic code pattern"), required=False, max_length=120,
                                             help_text=_("Shell-style, case-sensitive, e.g. *.BARREL_Z*.TEMP"))
    equipment = forms.ModelMultipleChoiceField(label=_("Equipment"), required=False, queryset=None,
                                               widget=forms.SelectMultiple(attrs={"size": 5}))
    lines = forms.ModelMultipleChoiceField(label=_("Lines"), required=False, queryset=None,
                                           widget=forms.SelectMultiple(attrs={"size": 3}))
    freeze = forms.BooleanField(label=_("Freeze the equipment's time window"), required=False)
    freeze_from = forms.ChoiceField(label=_("Freeze from"), choices=ReactionRule.FreezeFrom.choices,
                                    initial=ReactionRule.FreezeFrom.LAST_GOOD)
    freeze_lookback_s = forms.IntegerField(label=_("Look-back (s)"), min_value=1, initial=3600)
    freeze_propagate_forward = forms.BooleanField(label=_("Also freeze lots made from them"), required=False,
                                                  initial=True)
    open_nc_draft = forms.BooleanField(label=_("Open a nonconformance draft"), required=False)
    notify_groups = forms.ModelMultipleChoiceField(label=_("Notify groups"), required=False,
                                                   queryset=Group.objects.order_by("name"),
                                                   widget=forms.CheckboxSelectMultiple)
    escalate_after_min = forms.IntegerField(label=_("Escalate when unacknowledged after (min)"), required=False,
                                            min_value=1)
    escalation_groups = forms.ModelMultipleChoiceField(label=_("Escalation groups"), required=False,
                                                       queryset=Group.objects.order_by("name"),
                                                       widget=forms.CheckboxSelectMultiple)
    hold_command = forms.BooleanField(label=_("Send a hold command to MES"), required=False)
    writeback_connector = forms.ModelChoiceField(label=_("Write-back connector"), required=False, queryset=None)
    writeback_target = forms.CharField(label=_("Write-back target"), required=False, max_length=300,
                                       help_text=_("OPC UA node, MQTT topic, Modbus register or webhook path."))
    writeback_value = forms.CharField(label=_("Value written"), required=False, max_length=200,
                                      help_text=_("Empty: a structured hold command (alarm, equipment, lots) — "
                                                  "suits webhooks; OPC UA and Modbus targets need a value here."))
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    reason = ReasonField(required=False, help_text=_("Required when an enabled rule changes."))

    def __init__(self, *args, site, instance: ReactionRule | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        from connectors.models import Connector

        self.site, self.instance = site, instance
        self.fields["characteristics"].queryset = Characteristic.objects.filter(site=site).order_by("code")
        self.fields["equipment"].queryset = Equipment.objects.filter(site=site).order_by("code")
        self.fields["lines"].queryset = Line.objects.filter(area__site=site).order_by("code")
        self.fields["writeback_connector"].queryset = Connector.objects.filter(site=site).order_by("name")
        self.fields["spc_rules"].choices = [(name, name) for name in spc_rule_names()]
        if instance is not None and not self.is_bound:
            self.initial.update({name: getattr(instance, name) for name in SCALAR_FIELDS})
            self.initial.update({name: list(getattr(instance, name).all()) for name in (
                "characteristics", "equipment", "lines", "notify_groups", "escalation_groups")})
            self.initial.update(spc_rules=instance.spc_rules, equipment_states=instance.equipment_states,
                                writeback_connector=instance.writeback_connector, version=instance.version,
                                writeback_value="" if instance.writeback_value is None else instance.writeback_value)
        if instance is None:
            del self.fields["reason"]
            del self.fields["version"]

    def fieldsets(self):
        return [(title, [self[name] for name in names]) for title, names in FIELDSETS]

    def service_data(self) -> dict:
        data = {name: self.cleaned_data.get(name) for name in SCALAR_FIELDS}
        for name in ("characteristics", "equipment", "lines", "notify_groups", "escalation_groups"):
            data[name] = list(self.cleaned_data.get(name) or [])
        data["spc_rules"] = list(self.cleaned_data.get("spc_rules") or [])
        data["equipment_states"] = list(self.cleaned_data.get("equipment_states") or [])
        data["writeback_connector"] = self.cleaned_data.get("writeback_connector")
        data["writeback_value"] = self.cleaned_data.get("writeback_value") or None
        data["description"] = data["description"] or ""
        data["characteristic_pattern"] = data["characteristic_pattern"] or ""
        data["writeback_target"] = data["writeback_target"] or ""
        return data


class ToggleForm(forms.Form):
    reason = ReasonField(required=False, help_text=_("Required to disable an enabled rule."))
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
