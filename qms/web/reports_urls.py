"""Report pages, mounted at /reports/ by qms/urls.py."""
from django.urls import path

from qms.web.views import reports

urlpatterns = [
    path("", reports.ParetoReportView.as_view(), name="report-pareto"),
    path("nc-trend/", reports.TrendReportView.as_view(), name="report-trend"),
    path("capa-aging/", reports.CapaAgingReportView.as_view(), name="report-capa-aging"),
]
