"""/api/v1/spc/ — stored SPC data: a characteristic's chart data (decimated) and capability, and signals.

Read-only for any signed-in user of the characteristic's site (and any machine token of that site: an MES may
show the charts); a characteristic of another site answers 404 like one that does not exist.
"""
from __future__ import annotations

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from qms.auth.permissions import ANY_TOKEN
from qms.auth.scoping import SiteScopedQuerysetMixin, allowed_site_ids
from qms.web.access import site_time_zone
from spc.labels import rule_description
from spc.models import ChartConfig, Signal
from spc.services.chart_data import DEFAULT_MAX_POINTS, MAX_POINTS, capability_payload, chart_payload

RANGE_PARAMETERS = [
    OpenApiParameter("since", OpenApiTypes.DATETIME,
                     description=gettext_lazy(
                         "Points at or after this time (ISO 8601; without offset: the site's time zone).")),
    OpenApiParameter("until", OpenApiTypes.DATETIME,
                     description=gettext_lazy(
                         "Points at or before this time (ISO 8601; without offset: the site's time zone).")),
    OpenApiParameter("lot", OpenApiTypes.STR, description=gettext_lazy("Only points of this lot.")),
]


def parse_range(params) -> dict:
    """since/until as ISO 8601; a time without UTC offset is read in the current (the site's) time zone."""
    parsed = {}
    for name in ("since", "until"):
        raw = params.get(name)
        if raw:
            try:
                value = parse_datetime(raw.strip().replace(" ", "+"))
            except ValueError:
                value = None
            if value is None:
                raise ValidationError({name: [_("Not an ISO 8601 time: %(value)s") % {"value": raw[:40]}]})
            parsed[name] = value if value.tzinfo is not None else timezone.make_aware(value)
    if "since" in parsed and "until" in parsed and parsed["since"] > parsed["until"]:
        raise ValidationError({"until": [_("'until' lies before 'since'.")]})
    parsed["lot"] = params.get("lot") or None
    return parsed


def config_in_scope(request, pk: int) -> ChartConfig:
    config = (ChartConfig.objects.select_related("characteristic")
              .filter(characteristic_id=pk, characteristic__site_id__in=allowed_site_ids(request)).first())
    if config is None:
        raise NotFound(_("No control chart for this characteristic."))
    return config


CHART_EXAMPLE = {
    "characteristic": {"id": 7, "code": "IMM01.PART.WEIGHT", "name": "Part weight", "unit": "g", "lsl": 48.2,
                       "usl": 48.8, "nominal": 48.5},
    "config": {"chart_type": "imr", "subgroup_size": 1, "subgrouping": "count", "rules": ["WE1", "WE2", "WE3", "WE4"],
               "dispersion_rules": ["WE1"]},
    "charts": [
        {"name": "i", "label": "Individual value (I)", "x": ["2026-11-28T09:03:34+08:00", "2026-11-28T09:04:34+08:00"],
         "y": [48.52, 48.71], "center": [48.5, 48.5], "ucl": [48.65, 48.65], "lcl": [48.35, 48.35],
         "sigma": [0.05, 0.05], "meta": [{"lot": "L-002", "late": False}, {"lot": "L-002", "late": False}]},
        {"name": "mr", "label": "Moving range (MR)", "x": ["…"], "y": [None, 0.19], "center": [0.0564, 0.0564],
         "ucl": [0.1843, 0.1843], "lcl": [0.0, 0.0], "sigma": [0.0426, 0.0426], "meta": [None, None]},
    ],
    "signals": [{"chart": "i", "rule": "WE1", "description": "1 point beyond the 3σ control limits",
                 "ts": "2026-11-28T09:04:34+08:00", "value": 48.71, "points": [1], "measurements": [5321]}],
    "revisions": [{"number": 1, "ts": "2026-11-28T08:00:00+08:00", "first_point_ts": "2026-11-28T09:03:34+08:00",
                   "method": "baseline", "method_label": "computed from a baseline period", "reason": "PPAP run 12",
                   "by": "engineer", "summary": {"i": {"center": 48.5, "ucl": 48.65, "lcl": 48.35}}}],
    "lots": ["L-002"], "total_points": 2, "returned_points": 2, "decimated": False, "spec_applies": True,
}


class ChartDataView(APIView):
    token_scopes = {"GET": ANY_TOKEN}
    user_perms = {"GET": "spc.view_chartpoint"}

    @extend_schema(
        summary=gettext_lazy("Control chart data of one characteristic"),
        parameters=[*RANGE_PARAMETERS, OpenApiParameter(
            "max_points", OpenApiTypes.INT,
            description=format_lazy(gettext_lazy(
                "Decimate to about this many points (default {default}, at most {most}); per bucket the first, "
                "lowest and highest point are kept, and every signalled point."), default=DEFAULT_MAX_POINTS,
                most=MAX_POINTS))],
        responses={200: OpenApiTypes.OBJECT},
        examples=[OpenApiExample("I-MR chart", value=CHART_EXAMPLE, response_only=True)],
        description=gettext_lazy("Points as judged live, each with the centre, σ and limits of the revision that "
                                 "judged it; signals with the rule; limit revisions; see docs/spc-live.md."),
    )
    def get(self, request, pk: int):
        config = config_in_scope(request, pk)
        with site_time_zone(config.characteristic.site):  # times in and out in the plant's zone, as the pages show
            return Response(chart_payload(config, max_points=self._max_points(request), **parse_range(request.query_params)))

    @staticmethod
    def _max_points(request) -> int:
        raw = request.query_params.get("max_points")
        max_points = DEFAULT_MAX_POINTS
        if raw:
            try:
                max_points = int(raw)
            except ValueError:
                raise ValidationError({"max_points": [_("A whole number is required.")]}) from None
            if not 10 <= max_points <= MAX_POINTS:
                raise ValidationError({"max_points": [_("Must be between 10 and %(max)d.") % {"max": MAX_POINTS}]})
        return max_points


class CapabilityView(APIView):
    token_scopes = {"GET": ANY_TOKEN}
    user_perms = {"GET": "spc.view_chartpoint"}

    @extend_schema(summary=gettext_lazy("Process capability of one characteristic over a time range"),
                   parameters=RANGE_PARAMETERS, responses={200: OpenApiTypes.OBJECT})
    def get(self, request, pk: int):
        config = config_in_scope(request, pk)
        with site_time_zone(config.characteristic.site):
            return Response({"capability": capability_payload(config, **parse_range(request.query_params))})


class StoredSignalSerializer(serializers.ModelSerializer):
    characteristic = serializers.CharField(source="characteristic.code")
    description = serializers.SerializerMethodField()

    class Meta:
        model = Signal
        fields = ["id", "characteristic", "chart", "rule", "description", "index", "point_indices",
                  "measurement_ids", "first_ts", "ts", "value", "revision", "created_at"]

    def get_description(self, obj) -> str:
        return rule_description(obj.rule)


class SignalListView(SiteScopedQuerysetMixin, generics.ListAPIView):
    """Stored signals of the requester's sites, newest first; filter by characteristic code, rule and time."""

    queryset = Signal.objects.select_related("characteristic").order_by("-ts", "-id")
    serializer_class = StoredSignalSerializer
    token_scopes = {"GET": ANY_TOKEN}
    user_perms = {"GET": "spc.view_signal"}
    filterset_fields = {"rule": ["exact"], "chart": ["exact"], "ts": ["gte", "lte"]}

    def get_queryset(self):
        queryset = super().get_queryset()
        code = self.request.query_params.get("characteristic")
        return queryset.filter(characteristic__code=code) if code else queryset


def revision_dict(revision) -> dict:
    return {
        "number": revision.number, "method": revision.method, "limits": revision.limits, "summary": revision.summary,
        "baseline_start": revision.baseline_start, "baseline_end": revision.baseline_end,
        "baseline_count": revision.baseline_count, "excluded_count": revision.excluded_count,
        "excluded_measurements": revision.excluded, "reason": revision.reason, "created_by": revision.created_by,
        "created_at": revision.created_at,
    }


class LimitRevisionRequestSerializer(serializers.Serializer):
    method = serializers.ChoiceField(["baseline", "spec", "standard"], help_text=gettext_lazy(
        "baseline: phase I from the stored values in [start, end]; spec: provisional from nominal and "
        "specification; standard: known centre (and sigma)."))
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)
    exclude_out_of_control = serializers.BooleanField(required=False, default=False)
    center = serializers.FloatField(required=False)
    sigma = serializers.FloatField(required=False, min_value=0.0)
    reason = serializers.CharField(max_length=1000)


class ChartConfigView(APIView):
    """The chart configuration of a characteristic with its limit revisions (newest first); POST freezes a new
    revision (quality engineers: `spc.revise_limits`; machine tokens cannot)."""

    token_scopes = {"GET": ANY_TOKEN}
    user_perms = {"GET": "spc.view_limitrevision", "POST": ("spc.view_limitrevision", "spc.revise_limits")}

    @extend_schema(summary=gettext_lazy("Chart configuration and limit revisions of one characteristic"),
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request, pk: int):
        config = config_in_scope(request, pk)
        revisions = config.revisions.order_by("-number")
        return Response({
            "characteristic": config.characteristic.code, "chart_type": config.chart_type,
            "subgroup_size": config.subgroup_size, "subgrouping": config.subgrouping,
            "time_window_s": config.time_window_s, "sample_size": config.sample_size, "rules": config.rules,
            "dispersion_rules": config.dispersion_rules, "params": config.params,
            "revisions": [revision_dict(r) for r in revisions],
        })

    @extend_schema(summary=gettext_lazy("Freeze a new limit revision"), request=LimitRevisionRequestSerializer,
                   responses={201: OpenApiTypes.OBJECT})
    def post(self, request, pk: int):
        from django.core.exceptions import ValidationError as DjangoValidationError

        from spc.services import limits as limit_service

        config = config_in_scope(request, pk)
        body = LimitRevisionRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            if data["method"] == "baseline":
                if not data.get("start") or not data.get("end"):
                    raise ValidationError({"start": [_("A baseline needs start and end.")]})
                revision = limit_service.compute_limits_from_baseline(
                    config, start=data["start"], end=data["end"], reason=data["reason"],
                    exclude_out_of_control=data["exclude_out_of_control"])
            elif data["method"] == "spec":
                revision = limit_service.limits_from_specification(config, reason=data["reason"])
            else:
                if data.get("center") is None:
                    raise ValidationError({"center": [_("A known standard needs the centre.")]})
                revision = limit_service.limits_from_standard(config, center=data["center"], sigma=data.get("sigma"),
                                                              reason=data["reason"])
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from error
        return Response(revision_dict(revision), status=201)
