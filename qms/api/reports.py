"""Reports over REST for integrators (docs/reports.md). Same definitions as the pages (qms.services.reports).

GET /api/v1/reports/pareto/?site=&from=&to=&measure=count|cost&level=code|category
GET /api/v1/reports/nc-trend/?site=&from=&to=&period=week|month&group=line|product
GET /api/v1/reports/capa-aging/?site=

Users need qms.view_nonconformance (Pareto, trend) or qms.view_capa (aging). Machine tokens cannot read reports.
Bad parameters → 400 {"error": {"code": "invalid_date" | "invalid_range" | "range_too_long" | "invalid_choice", ...}}.
"""
from __future__ import annotations

from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from qms.api.errors import ApiError
from qms.auth.scoping import resolve_write_site
from qms.services import reports

RANGE_PARAMETERS = [
    OpenApiParameter("site", str, description=gettext_lazy("Site code (needed when you belong to several sites).")),
    OpenApiParameter("from", OpenApiTypes.DATE, description=gettext_lazy(
        "First day (site time zone); default 89 days before `to`.")),
    OpenApiParameter("to", OpenApiTypes.DATE, description=gettext_lazy("Last day, inclusive; default today.")),
]


class _ReportView(APIView):
    token_scopes: dict = {}  # reports are for people and their integrations signed in as people

    def site(self, request):
        return resolve_write_site(request, request.query_params.get("site") or None)

    def get(self, request):
        site = self.site(request)
        try:
            body = self.report(site, request.query_params)
        except reports.ReportError as error:
            raise ApiError(error.message, code=error.code, status_code=400,
                           details={"field": error.field} if error.field else None) from None
        return Response({"site": site.code, **body})


def _range(params) -> dict:
    return {"date_from": params.get("from"), "date_to": params.get("to")}


@extend_schema(tags=["reports"], summary=gettext_lazy("Pareto of defect codes by count or cost"),
               parameters=[*RANGE_PARAMETERS, OpenApiParameter("measure", enum=reports.MEASURES),
                           OpenApiParameter("level", enum=reports.LEVELS)], responses={200: OpenApiTypes.OBJECT})
class ParetoApiView(_ReportView):
    user_perms = {"GET": "qms.view_nonconformance"}

    def report(self, site, params):
        report = reports.defect_pareto(site, measure=params.get("measure"), level=params.get("level"),
                                       **_range(params))
        return {
            "from": report.days.first, "to": report.days.last, "measure": report.measure, "level": report.level,
            "nc_count": report.nc_count, "total": round(report.total, 2),
            "rows": [{"code": report.codes[row.key].code, "name_en": report.codes[row.key].name_en,
                      "name_zh": report.codes[row.key].name_zh, "value": round(row.value, 2),
                      "share_pct": round(row.share_pct, 2), "cumulative_pct": round(row.cumulative_pct, 2),
                      "vital_few": row.vital_few} for row in report.rows],
            "not_costed": [code.code for code in report.not_costed],
        }


@extend_schema(tags=["reports"], summary=gettext_lazy("Nonconformances per week or month, by line or product"),
               parameters=[*RANGE_PARAMETERS, OpenApiParameter("period", enum=("week", "month")),
                           OpenApiParameter("group", enum=reports.GROUPS)], responses={200: OpenApiTypes.OBJECT})
class TrendApiView(_ReportView):
    user_perms = {"GET": "qms.view_nonconformance"}

    def report(self, site, params):
        report = reports.nc_trend(site, period=params.get("period"), group=params.get("group"), **_range(params))
        return {
            "from": report.days.first, "to": report.days.last, "period": report.period, "group": report.group,
            "nc_count": report.nc_count,
            "periods": [{"start": start, "label": report.period_label(start)} for start in report.trend.periods],
            "series": [{"name": str(name), "counts": counts} for name, counts in report.trend.series.items()],
            "totals": report.trend.totals,
        }


@extend_schema(tags=["reports"], summary=gettext_lazy("Open CAPAs by age and current step; overdue actions"),
               parameters=[RANGE_PARAMETERS[0]], responses={200: OpenApiTypes.OBJECT})
class CapaAgingApiView(_ReportView):
    user_perms = {"GET": "qms.view_capa"}

    def report(self, site, params):
        report = reports.capa_aging(site)
        return {
            "today": report.today,
            "buckets": [{"label": b.label, "min_days": b.low, "max_days": b.high - 1 if b.high else None,
                         "count": count} for b, count in zip(report.buckets, report.by_bucket, strict=True)],
            "by_step": report.by_step,
            "capas": [{"id": row.capa.pk, "number": row.capa.number, "title": row.capa.title,
                       "opened_at": row.capa.created_at, "age_days": row.age_days, "current_step": row.current_step,
                       "overdue_actions": row.overdue_actions} for row in report.capas],
            "overdue_actions": [{"id": action.pk, "title": action.title, "owner": action.owner.get_username(),
                                 "due_date": action.due_date, "days_overdue": action.days_overdue,
                                 "nc": action.nc.number if action.nc else None,
                                 "capa": action.capa.number if action.capa else None,
                                 "capa_step": action.capa_step or None} for action in report.overdue],
        }
