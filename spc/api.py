"""Stateless SPC analysis over HTTP: POST a chart's data, get limits, signals and capability back.

Views stay thin: read and size-check the body, hand it to the pure engine, map its `EngineInputError` onto the
API's error body. Bodies are parsed with orjson and converted with numpy (a million values in well under a
second); the serializers in spc/serializers.py document the contract in the OpenAPI schema.
"""
import orjson
from django.conf import settings
from django.http import HttpResponse
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.parsers import JSONParser
from rest_framework.views import APIView

from qms.api.errors import ApiError
from qms.auth.permissions import ANY_TOKEN
from spc.engine import MAX_VALUES, EngineInputError, analyze, gauge_rr
from spc.serializers import (
    AnalyzeRequestSerializer,
    AnalyzeResponseSerializer,
    ErrorSerializer,
    GaugeRRRequestSerializer,
)

ANALYZE_FIELDS = {"chart", "subgroups", "values", "counts", "sizes", "rules", "dispersion_rules", "params", "spec"}
GAUGE_FIELDS = {"measurements", "tolerance", "study_multiplier", "process_sigma"}
# A million values as JSON is ~10–25 MB; leave room for formatting but refuse anything absurd before reading it.
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024

EXAMPLE_REQUEST = {
    "chart": "xbar_r",
    "subgroups": [[74.030, 74.002, 74.019, 73.992, 74.008], [73.995, 73.992, 74.001, 74.011, 74.004],
                  [73.988, 74.024, 74.021, 74.005, 74.002]],
    "rules": ["WE1", "WE2", "WE3", "WE4"],
    "spec": {"lsl": 73.95, "usl": 74.05},
}
EXAMPLE_RESPONSE = {  # the engine's answer to EXAMPLE_REQUEST, rounded (tests/spc/test_api_analyze.py checks it)
    "chart": "xbar_r",
    "charts": [
        {"name": "xbar", "points": [74.0102, 74.0006, 74.008], "center": [74.00627, 74.00627, 74.00627],
         "ucl": [74.02415, 74.02415, 74.02415], "lcl": [73.98839, 73.98839, 73.98839], "signals": []},
        {"name": "r", "points": [0.038, 0.019, 0.036], "center": [0.031, 0.031, 0.031],
         "ucl": [0.06555, 0.06555, 0.06555], "lcl": [0.0, 0.0, 0.0], "signals": []},
    ],
    "sigma_within": 0.013328,
    "sigma_overall": 0.012595,
    "limits": {"chart": "xbar_r", "center": 74.00627, "sigma": 0.013328, "sigma_method": "rbar"},
    "rules": {"xbar": ["WE1", "WE2", "WE3", "WE4"], "r": ["WE1"]},
    "baseline": {"count": 3, "excluded": []},
    "capability": {"n": 15, "within": {"Cp": 1.2505, "Cpk": 1.0938, "Cp_ci": [0.732, 1.770]},
                   "overall": {"Pp": 1.3233, "Ppk": 1.1574}, "method": {"route": "normal"}},
}
ERROR_EXAMPLE = {"error": {"code": "subgroup_size_out_of_range",
                           "message": "subgroups[2] has 1 values; X̄-R and X̄-S subgroups need 2 to 25.",
                           "details": {"subgroups": ["subgroups[2] has 1 values; X̄-R and X̄-S subgroups need 2 to 25."]}}}


class AnalyzeView(APIView):
    """Any signed-in user or any machine token of the site may analyse data; nothing is stored."""

    parser_classes = [JSONParser]  # documents the media type; the body is read by `_read_json`
    token_scopes = {"POST": ANY_TOKEN}
    user_perms = {"POST": ()}

    @extend_schema(
        operation_id="spc_analyze",
        summary=gettext_lazy("Analyse data on a control chart (stateless)"),
        description=format_lazy(gettext_lazy(
            "Phase I limits from the baseline (optionally excluding out-of-control points), every point judged "
            "against them with the selected run rules, and — with `spec` — capability. `center`, `ucl` and `lcl` "
            "are per-point arrays the length of `points` (limits vary with subgroup size; EWMA limits with time). "
            "At most {max_values} values per request (413 beyond)."
        ), max_values=f"{MAX_VALUES:,}"),
        request=AnalyzeRequestSerializer,
        responses={
            200: AnalyzeResponseSerializer,
            400: OpenApiResponse(ErrorSerializer, description=gettext_lazy("The body names the offending field.")),
            413: OpenApiResponse(ErrorSerializer, description=gettext_lazy("Too many values or too large a body.")),
        },
        examples=[
            OpenApiExample("X̄-R with capability", value=EXAMPLE_REQUEST, request_only=True),
            OpenApiExample("I-MR with all Nelson rules", request_only=True, value={
                "chart": "imr", "values": [33.75, 33.05, 34.0, 33.81, 33.46, 34.02, 33.68, 33.27],
                "rules": ["N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8"]}),
            OpenApiExample("p chart, phase I with two samples excluded", request_only=True, value={
                "chart": "p", "counts": [12, 15, 8, 10, 4, 7, 16, 9], "sizes": [50, 50, 50, 50, 50, 50, 50, 50],
                "params": {"exclude": [1, 6]}}),
            OpenApiExample("EWMA against a known target", request_only=True, value={
                "chart": "ewma", "values": [9.45, 7.99, 9.29, 11.66, 12.16],
                "params": {"lambda": 0.1, "L": 2.7, "target": 10, "sigma": 1}}),
            OpenApiExample("Tabular CUSUM", request_only=True, value={
                "chart": "cusum", "values": [9.45, 7.99, 9.29, 11.66, 12.16],
                "params": {"k": 0.5, "h": 5, "target": 10, "sigma": 1}}),
            OpenApiExample("Result", value=EXAMPLE_RESPONSE, response_only=True, status_codes=["200"]),
            OpenApiExample("Subgroup of one", value=ERROR_EXAMPLE, response_only=True, status_codes=["400"]),
        ],
        tags=["spc"],
    )
    def post(self, request):
        body = _read_json(request, ANALYZE_FIELDS)
        _check_count(body)
        try:
            result = analyze(
                body.get("chart"), subgroups=body.get("subgroups"), values=body.get("values"),
                counts=body.get("counts"), sizes=body.get("sizes"), rules=body.get("rules"),
                dispersion_rules=body.get("dispersion_rules"), params=body.get("params"), spec=body.get("spec"),
            )
        except EngineInputError as exc:
            raise _api_error(exc) from exc
        return _json_response(result.to_dict())


class GaugeRRView(APIView):
    parser_classes = [JSONParser]
    token_scopes = {"POST": ANY_TOKEN}
    user_perms = {"POST": ()}

    @extend_schema(
        operation_id="spc_gauge_rr",
        summary=gettext_lazy("Gauge R&R by the ANOVA method (crossed parts × operators × trials, AIAG MSA 4th ed.)"),
        request=GaugeRRRequestSerializer,
        responses={200: OpenApiResponse(description=gettext_lazy(
            "ANOVA table, variance components, %EV/%AV/%GRR/%PV, ndc.")),
                   400: OpenApiResponse(ErrorSerializer)},
        examples=[OpenApiExample("2 parts × 2 operators × 2 trials", request_only=True, value={
            "measurements": [[[10.1, 10.2], [10.4, 10.3]], [[12.0, 12.1], [12.3, 12.2]]], "tolerance": 4.0})],
        tags=["spc"],
    )
    def post(self, request):
        body = _read_json(request, GAUGE_FIELDS)
        numbers = {}
        for name in ("tolerance", "study_multiplier", "process_sigma"):
            value = body.get(name)
            if value is not None and (type(value) not in (int, float) or value <= 0):
                raise ApiError(_("'%(field)s' must be a positive number.") % {"field": name}, code="invalid",
                               details={name: [_("must be a positive number")]})
            if value is not None:
                numbers[name] = float(value)
        measurements = body.get("measurements")
        if not isinstance(measurements, list) or not _all_numbers(measurements):
            raise ApiError(_("'measurements' must be a [part][operator][trial] array of numbers."),
                           code="invalid", details={"measurements": [_("not an array of numbers")]})
        try:
            result = gauge_rr(measurements, **numbers)
        except EngineInputError as exc:
            raise _api_error(exc) from exc
        return _json_response(result)


def _read_json(request, allowed: set) -> dict:
    limit = getattr(settings, "SPC_ANALYZE_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise ApiError(_("The body exceeds %(limit)s bytes.") % {"limit": limit}, code="body_too_large",
                       status_code=413)
    # Read the stream directly: HttpRequest.body would stop at DATA_UPLOAD_MAX_MEMORY_SIZE (sized for ingestion
    # batches), while an analysis may legitimately carry a million values.
    raw = request._request.read(limit + 1)
    if len(raw) > limit:
        raise ApiError(_("The body exceeds %(limit)s bytes.") % {"limit": limit}, code="body_too_large",
                       status_code=413)
    if not raw.strip():
        raise ApiError(_("The request body is empty."), code="empty_body")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(_("The body is not valid JSON (NaN and Infinity are not JSON numbers): %(detail)s.")
                       % {"detail": exc}, code="malformed_json") from exc
    if not isinstance(body, dict):
        raise ApiError(_("The body must be a JSON object."), code="body_not_an_object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(_("Unknown field(s): %(fields)s.") % {"fields": ", ".join(unknown)}, code="unknown_field",
                       details={name: [_("unknown field")] for name in unknown})
    return body


def _check_count(body: dict) -> None:
    """Refuse oversize input by count before converting anything (413, like an oversize ingest batch)."""
    total = 0
    for name in ("values", "counts"):
        if isinstance(body.get(name), list):
            total = max(total, len(body[name]))
    groups = body.get("subgroups")
    if isinstance(groups, list):
        total = sum(len(g) if isinstance(g, list) else 1 for g in groups)
    if total > MAX_VALUES:
        raise ApiError(_("%(count)s values exceed the limit of %(limit)s per analysis.")
                       % {"count": total, "limit": MAX_VALUES}, code="too_many_points", status_code=413)


# The engine has no Django and speaks English; the API's `message` is translated per error code and `details`
# carries the engine's precise sentence (which index, which value).
ENGINE_MESSAGES = {
    "unknown_chart": gettext_lazy("Unknown chart type."),
    "required": gettext_lazy("A field this chart needs is missing."),
    "not_a_list": gettext_lazy("A field that must be a list is not."),
    "empty": gettext_lazy("The data are empty."),
    "not_a_number": gettext_lazy("A value is not a number."),
    "non_finite": gettext_lazy("A value is not a finite number."),
    "out_of_range": gettext_lazy("A value is too large to analyse."),
    "too_many_points": gettext_lazy("Too many values for one analysis."),
    "subgroup_size_out_of_range": gettext_lazy("A subgroup's size is outside 2–25."),
    "ragged_subgroups": gettext_lazy("Subgroups of different sizes are not allowed here."),
    "ragged_sizes": gettext_lazy("An np chart needs one constant sample size."),
    "invalid_count": gettext_lazy("Counts must be whole numbers ≥ 0."),
    "invalid_size": gettext_lazy("A sample size is invalid."),
    "size_below_count": gettext_lazy("A sample size is smaller than its count."),
    "length_mismatch": gettext_lazy("counts and sizes differ in length."),
    "unexpected_field": gettext_lazy("A field does not apply to this chart."),
    "unknown_rule": gettext_lazy("Unknown run rule."),
    "rule_not_applicable": gettext_lazy("A run rule does not apply to this chart."),
    "unknown_param": gettext_lazy("Unknown parameter."),
    "invalid_param": gettext_lazy("A parameter is invalid."),
    "invalid_baseline": gettext_lazy("The baseline is longer than the data."),
    "invalid_exclude": gettext_lazy("An excluded point does not exist."),
    "empty_baseline": gettext_lazy("No baseline points are left to compute limits from."),
    "too_few_points": gettext_lazy("Too few points to estimate sigma; give params.sigma."),
    "unbalanced": gettext_lazy("The gauge study is not a balanced parts × operators × trials array."),
    "too_small": gettext_lazy("A gauge study needs at least 2 parts, 2 operators and 2 trials."),
    "invalid": gettext_lazy("The request is invalid."),
}


def _api_error(exc: EngineInputError) -> ApiError:
    summary = ENGINE_MESSAGES.get(exc.code)
    message = f"{summary} {exc.message}" if summary is not None else exc.message
    return ApiError(message, code=exc.code, status_code=exc.status, details={exc.field: [exc.message]})


def _all_numbers(nested) -> bool:
    if isinstance(nested, list):
        return all(_all_numbers(item) for item in nested)
    return type(nested) in (int, float)


def _json_response(payload: dict) -> HttpResponse:
    # orjson: NaN would become null, but the engine already emits None for undefined points.
    return HttpResponse(orjson.dumps(payload), content_type="application/json")
