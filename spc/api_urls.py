"""/api/v1/spc/ — stateless analysis endpoints (live evaluation and stored signals come with issue 3 item 4)."""
from django.urls import path

from spc.api import AnalyzeView, GaugeRRView

urlpatterns = [
    path("spc/analyze/", AnalyzeView.as_view(), name="spc-analyze"),
    path("spc/gauge-rr/", GaugeRRView.as_view(), name="spc-gauge-rr"),
]
