"""/api/v1/spc/ — stateless analysis endpoints, and the stored charts and signals of live evaluation (api_live)."""
from django.urls import path

from spc.api import AnalyzeView, GaugeRRView
from spc.api_live import CapabilityView, ChartConfigView, ChartDataView, SignalListView

urlpatterns = [
    path("spc/analyze/", AnalyzeView.as_view(), name="spc-analyze"),
    path("spc/gauge-rr/", GaugeRRView.as_view(), name="spc-gauge-rr"),
    path("spc/characteristics/<int:pk>/chart/", ChartDataView.as_view(), name="spc-chart-data"),
    path("spc/characteristics/<int:pk>/capability/", CapabilityView.as_view(), name="spc-capability"),
    path("spc/characteristics/<int:pk>/config/", ChartConfigView.as_view(), name="spc-chart-config"),
    path("spc/signals/", SignalListView.as_view(), name="spc-signal-list"),
]
