"""Report pages /reports/ (Pareto of defect codes, NC trend, CAPA aging), each table also as CSV (?format=csv,
&table=<name> where a page has several). Thin: parameters go to qms.services.reports, drawings come from
qms.reports.svg."""
from __future__ import annotations

from django import forms
from django.http import HttpResponse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView

from qms.reports import svg
from qms.reports.csvtext import csv_text
from qms.services import reports
from qms.web.access import SitePageMixin

DATE_WIDGET = forms.DateInput(attrs={"type": "date"})
CHART_SERIES_MAX = len(svg.PALETTE)
# The drawings are marked safe: qms.reports.svg escapes every label it is given.


def csv_response(table: reports.Table) -> HttpResponse:
    response = HttpResponse(csv_text(table.header, table.rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{table.name}.csv"'
    return response


class RangeForm(forms.Form):
    date_from = forms.DateField(label=gettext_lazy("From"), required=False, widget=DATE_WIDGET)
    date_to = forms.DateField(label=gettext_lazy("Until"), required=False, widget=DATE_WIDGET)


class ParetoForm(RangeForm):
    measure = forms.ChoiceField(label=gettext_lazy("Measure"), required=False,
                                choices=[("count", gettext_lazy("number of NCs")), ("cost", gettext_lazy("cost"))])
    level = forms.ChoiceField(label=gettext_lazy("Level"), required=False,
                              choices=[("code", gettext_lazy("defect code")), ("category", gettext_lazy("category"))])


class TrendForm(RangeForm):
    group = forms.ChoiceField(label=gettext_lazy("By"), required=False,
                              choices=[("line", gettext_lazy("line")), ("product", gettext_lazy("product"))])
    period = forms.ChoiceField(label=gettext_lazy("Period"), required=False,
                               choices=[("week", gettext_lazy("week")), ("month", gettext_lazy("month"))])


class ReportView(SitePageMixin, TemplateView):
    """GET parameters → service call → page, or the named table as CSV. Bad parameters: the form shows why."""

    form_class: type[forms.Form] = RangeForm
    permission_required = "qms.view_nonconformance"
    tab = ""

    def build(self, params: dict):
        raise NotImplementedError

    def tables(self, report) -> dict[str, reports.Table]:
        raise NotImplementedError

    def get(self, request, *args, **kwargs):
        form = self.form_class(request.GET or None)
        params = {}
        if form.is_bound and form.is_valid():
            params = {name: value for name, value in form.cleaned_data.items() if value not in (None, "")}
        report = None
        if not form.is_bound or form.is_valid():
            try:
                report = self.build(params)
            except reports.ReportError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
        if report is not None and request.GET.get("format") == "csv":
            tables = self.tables(report)
            return csv_response(tables.get(request.GET.get("table", ""), next(iter(tables.values()))))
        context = self.get_context_data(form=form, report=report, tab=self.tab)
        if report is not None:
            context.update(self.extra_context_for(report))
        status = 400 if form.errors else 200
        return self.render_to_response(context, status=status)

    def extra_context_for(self, report) -> dict:
        return {}


def _range(params):
    return {"date_from": params.get("date_from"), "date_to": params.get("date_to")}


class ParetoReportView(ReportView):
    template_name = "qms/reports/pareto.html"
    form_class = ParetoForm
    tab = "pareto"

    def build(self, params):
        return reports.defect_pareto(self.site, measure=params.get("measure"), level=params.get("level"),
                                     **_range(params))

    def tables(self, report):
        return {"pareto": reports.pareto_table(report)}

    def extra_context_for(self, report):
        labels = [report.label(row) for row in report.rows]
        chart = svg.pareto_chart(labels, [row.value for row in report.rows],
                                 [row.cumulative_pct for row in report.rows], label=_("Pareto of defect codes"))
        return {"chart": mark_safe(chart), "rows": list(zip(labels, report.rows, strict=True))}


class TrendReportView(ReportView):
    template_name = "qms/reports/trend.html"
    form_class = TrendForm
    tab = "trend"

    def build(self, params):
        return reports.nc_trend(self.site, period=params.get("period"), group=params.get("group"), **_range(params))

    def tables(self, report):
        return {"trend": reports.trend_table(report)}

    def extra_context_for(self, report):
        labels = [report.period_label(start) for start in report.trend.periods]
        series = list(report.trend.series.items())
        if len(series) > CHART_SERIES_MAX:  # fold the small ones so the legend stays readable
            rest = series[CHART_SERIES_MAX - 1:]
            series = [*series[:CHART_SERIES_MAX - 1],
                      (_("other"), [sum(column) for column in zip(*(c for _n, c in rest), strict=True)])]
        chart = svg.line_chart(labels, [(str(name), counts) for name, counts in series], label=_("NC trend"))
        legend = [(str(name), svg.series_colour(index)) for index, (name, _c) in enumerate(series)]
        return {"chart": mark_safe(chart), "legend": legend, "table": reports.trend_table(report)}


class CapaAgingReportView(ReportView):
    template_name = "qms/reports/aging.html"
    form_class = forms.Form
    permission_required = "qms.view_capa"
    tab = "aging"

    def build(self, params):
        return reports.capa_aging(self.site)

    def tables(self, report):
        return {"aging": reports.aging_table(report), "capas": reports.open_capas_table(report),
                "overdue": reports.overdue_table(report)}

    def extra_context_for(self, report):
        chart = svg.bar_chart([_("%(range)s days") % {"range": b.label} for b in report.buckets], report.by_bucket,
                              label=_("Open CAPAs by age"))
        return {"chart": mark_safe(chart), "aging_table": reports.aging_table(report)}
