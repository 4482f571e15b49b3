from django.urls import path

from qms.api import reports

urlpatterns = [
    path("reports/pareto/", reports.ParetoApiView.as_view(), name="api-report-pareto"),
    path("reports/nc-trend/", reports.TrendApiView.as_view(), name="api-report-trend"),
    path("reports/capa-aging/", reports.CapaAgingApiView.as_view(), name="api-report-capa-aging"),
]
