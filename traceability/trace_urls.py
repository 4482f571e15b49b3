"""Trace pages, mounted at /trace/ by qms/urls.py."""
from django.urls import path

from traceability.trace_views import TraceLotView, TraceSearchView

urlpatterns = [
    path("", TraceSearchView.as_view(), name="trace-search"),
    path("lots/<str:code>/", TraceLotView.as_view(), name="trace-lot"),
]
