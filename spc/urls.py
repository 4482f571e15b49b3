"""SPC pages, mounted at /spc/ by qms/urls.py."""
from django.urls import path

from spc import views

urlpatterns = [
    path("", views.OverviewView.as_view(), name="spc-overview"),
    path("characteristics/<int:pk>/", views.ChartPageView.as_view(), name="spc-chart"),
    path("characteristics/<int:pk>/configure/", views.ConfigureView.as_view(), name="spc-configure"),
    path("characteristics/<int:pk>/limits/", views.ReviseLimitsView.as_view(), name="spc-revise-limits"),
]
