"""Schema-only serializers for the SPC analysis API.

The views validate and convert the (possibly million-value) bodies themselves with numpy — running a DRF field per
number would take seconds — so these classes exist to document the contract in the OpenAPI schema.
"""
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from spc.engine.limits import CHART_NAMES, CHART_TYPES
from spc.engine.rules import RULES

RULE_IDS = [*RULES, "CUSUM"]
ALL_CHART_NAMES = sorted({name for names in CHART_NAMES.values() for name in names})


class AnalyzeParamsSerializer(serializers.Serializer):
    target = serializers.FloatField(required=False, help_text=_(
        "Known process mean (variables, EWMA, CUSUM) or standard p, c, u (attribute charts) instead of estimating it."))
    sigma = serializers.FloatField(required=False, min_value=0, help_text=_("Known process sigma instead of estimating it."))
    sigma_method = serializers.ChoiceField(["rbar", "sbar", "pooled"], required=False, help_text=_(
        "Within-subgroup sigma estimator for X̄ charts: rbar (R̄/d2, default for X̄-R), sbar (S̄/c4, default for "
        "X̄-S), pooled (Sp/c4)."))
    L = serializers.FloatField(required=False, default=3.0, help_text=_("EWMA limit width in EWMA sigmas."))
    k = serializers.FloatField(required=False, default=0.5, help_text=_("CUSUM reference value, in sigmas."))
    h = serializers.FloatField(required=False, default=5.0, help_text=_("CUSUM decision interval, in sigmas."))
    baseline = serializers.IntegerField(required=False, min_value=1, help_text=_(
        "Phase I: limits come from the first `baseline` points; later points are judged against them (phase II). "
        "Default: all points."))
    exclude = serializers.ListField(child=serializers.IntegerField(min_value=0), required=False, help_text=_(
        "Baseline points (0-based) left out of the limit computation (assignable causes)."))
    exclude_out_of_control = serializers.BooleanField(required=False, default=False, help_text=_(
        "Phase I: drop baseline points beyond the limits and recompute until none is left (Shewhart charts)."))
    subgroup_size = serializers.IntegerField(required=False, min_value=2, max_value=25, help_text=_(
        "Require every subgroup to have exactly this size (ragged subgroups are then refused)."))
    confidence = serializers.FloatField(required=False, default=0.95, help_text=_(
        "Confidence level of capability intervals."))
    transform = serializers.ChoiceField(["auto", "none", "box-cox", "johnson"], required=False, default="auto",
                                        help_text=_("Non-normal route for capability; auto when Anderson–Darling p < 0.05."))


# "lambda" is a Python keyword, so the field is added under its JSON name after the class is built.
AnalyzeParamsSerializer._declared_fields["lambda"] = serializers.FloatField(
    required=False, default=0.2, help_text=_("EWMA smoothing constant λ, 0 < λ ≤ 1."))


class SpecSerializer(serializers.Serializer):
    lsl = serializers.FloatField(required=False)
    usl = serializers.FloatField(required=False)
    target = serializers.FloatField(required=False, help_text=_("Default: the midpoint of lsl and usl."))


class AnalyzeRequestSerializer(serializers.Serializer):
    chart = serializers.ChoiceField(list(CHART_TYPES))
    subgroups = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField()), required=False,
        help_text=_("X̄-R / X̄-S: one list of 2–25 measurements per subgroup (sizes may vary: per-point limits)."))
    values = serializers.ListField(child=serializers.FloatField(), required=False,
                                   help_text=_("I-MR, EWMA, CUSUM: individual measurements in time order."))
    counts = serializers.ListField(child=serializers.IntegerField(min_value=0), required=False,
                                   help_text=_("p, np: nonconforming units; c, u: nonconformities."))
    sizes = serializers.ListField(child=serializers.FloatField(), required=False,
                                  help_text=_("p, np, u: sample sizes (inspection units for u); omitted for c."))
    rules = serializers.ListField(child=serializers.ChoiceField(RULE_IDS), required=False, help_text=_(
        "Run rules for the main chart: WE1–WE4, N1–N8 (default WE1–WE4). EWMA and CUSUM charts apply their own "
        "limit test only."))
    dispersion_rules = serializers.ListField(child=serializers.ChoiceField(RULE_IDS), required=False, help_text=_(
        "Rules for the R, S or MR chart (default: the beyond-limits rule among `rules`)."))
    params = AnalyzeParamsSerializer(required=False)
    spec = SpecSerializer(required=False, help_text=_("Specification limits: capability is computed when given."))


class SignalSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text=_("0-based point that completes the pattern."))
    rule = serializers.ChoiceField(RULE_IDS)
    points = serializers.ListField(child=serializers.IntegerField(), help_text=_("Every point involved."))


class ChartSerializer(serializers.Serializer):
    name = serializers.ChoiceField(ALL_CHART_NAMES)
    points = serializers.ListField(child=serializers.FloatField(allow_null=True))
    center = serializers.ListField(child=serializers.FloatField(allow_null=True))
    ucl = serializers.ListField(child=serializers.FloatField(allow_null=True))
    lcl = serializers.ListField(child=serializers.FloatField(allow_null=True))
    signals = SignalSerializer(many=True)


class BaselineSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    excluded = serializers.ListField(child=serializers.IntegerField())


class AnalyzeResponseSerializer(serializers.Serializer):
    chart = serializers.ChoiceField(list(CHART_TYPES))
    charts = ChartSerializer(many=True)
    sigma_within = serializers.FloatField(allow_null=True)
    sigma_overall = serializers.FloatField(allow_null=True)
    limits = serializers.DictField(help_text=_("Frozen limits (process parameters) for phase II and live use."))
    rules = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    baseline = BaselineSerializer()
    capability = serializers.DictField(allow_null=True, help_text=_(
        "Cp, Cpk, Pp, Ppk, Cpm with intervals, expected/observed ppm, Anderson–Darling, and the route taken."))


class GaugeRRRequestSerializer(serializers.Serializer):
    measurements = serializers.ListField(
        child=serializers.ListField(child=serializers.ListField(child=serializers.FloatField())),
        help_text=_("measurements[part][operator][trial], balanced: ≥ 2 parts, operators and trials."))
    tolerance = serializers.FloatField(required=False, min_value=0, help_text=_("USL − LSL, for % of tolerance."))
    study_multiplier = serializers.FloatField(required=False, default=6.0)
    process_sigma = serializers.FloatField(required=False, min_value=0)


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField(required=False)


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()
