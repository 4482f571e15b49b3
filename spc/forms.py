"""Forms of the chart page: chart configuration and a new limit revision (both need a reason)."""
from __future__ import annotations

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from qms.web.forms.common import ReasonField
from spc.engine.rules import SHEWHART_RULES
from spc.labels import RULE_DESCRIPTIONS
from spc.models import CHART_TYPE_CHOICES, ChartConfig

RULE_CHOICES = [(rule, format_lazy("{} — {}", rule, RULE_DESCRIPTIONS[rule])) for rule in SHEWHART_RULES]


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class ChartConfigForm(forms.Form):
    chart_type = forms.ChoiceField(label=_("Chart type"), choices=CHART_TYPE_CHOICES)
    subgroup_size = forms.IntegerField(label=_("Subgroup size"), min_value=1, max_value=25, initial=1,
                                       help_text=_("X̄ charts: 2–25 values per subgroup."))
    subgrouping = forms.ChoiceField(label=_("Subgroups form"), choices=ChartConfig.Subgrouping.choices)
    time_window_s = forms.IntegerField(label=_("Time window (s)"), min_value=1, required=False)
    sample_size = forms.IntegerField(label=_("Sample size"), min_value=1, required=False,
                                     help_text=_("p, np and u charts: units inspected per value."))
    rules = forms.MultipleChoiceField(label=_("Run rules"), choices=RULE_CHOICES, required=False,
                                      widget=forms.CheckboxSelectMultiple,
                                      help_text=_("EWMA and CUSUM charts use their own limit test."))
    reason = ReasonField()


class LimitRevisionForm(forms.Form):
    METHODS = [
        ("baseline", _("Compute from a baseline period (phase I)")),
        ("spec", _("Provisional, from nominal and specification")),
        ("manual", _("Known standard: centre and sigma")),
    ]
    method = forms.ChoiceField(label=_("Method"), choices=METHODS, widget=forms.RadioSelect, initial="baseline")
    start = forms.DateTimeField(label=_("Baseline from"), required=False, widget=DateTimeInput())
    end = forms.DateTimeField(label=_("Baseline until"), required=False, widget=DateTimeInput())
    exclude_out_of_control = forms.BooleanField(
        label=_("Exclude out-of-control points and recompute"), required=False, initial=True)
    center = forms.FloatField(label=_("Centre (μ, p̄, c̄ or ū)"), required=False)
    sigma = forms.FloatField(label=_("Process sigma (σ)"), required=False)
    reason = ReasonField()

    def clean(self):
        data = super().clean()
        method = data.get("method")
        if method == "baseline":
            for name in ("start", "end"):
                if not data.get(name):
                    self.add_error(name, _("Needed for a baseline."))
        if method == "manual" and data.get("center") is None:
            self.add_error("center", _("Needed for a known standard."))
        return data
