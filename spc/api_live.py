"""/api/v1/spc/ — stored SPC data: a characteristic's chart data (decimated) and capability, and signals.

Read-only for any signed-in user of the characteristic's site (and any machine token of that site: an MES may
show the charts); a characteristic of another site answers 404 like one that does not exist.
"""
from __future__ import annotations

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
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
                     description="Points at or after this time (ISO 8601; without offset: the site's time zone)."),
    OpenApiParameter("until", OpenApiTypes.DATETIME,
                     description="Points at or before this time (ISO 8601; without offset: the site's time zone)."),
    OpenApiParameter("lot", OpenApiTypes.STR, description="Only points of this lot."),
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
        summary="Control chart data of one characteristic",
        parameters=[*RANGE_PARAMETERS, OpenApiParameter(
            "max_points", OpenApiTypes.INT,
            description=f"Decimate to about this many points (default {DEFAULT_MAX_POINTS}, at most {MAX_POINTS}); "
                        "per bucket the first, lowest and highest point are kept, and every signalled point.")],
        responses={200: OpenApiTypes.OBJECT},
        examples=[OpenApiExample("I-MR chart", value=CHART_EXAMPLE, response_only=True)],
        description="Points as judged live, each with the centre, σ and limits of the revision that judged it; "
                    "signals with the rule; limit revisions; see docs/spc-live.md.",
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

    @extend_schema(summary="Process capability of one characteristic over a time range",
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
