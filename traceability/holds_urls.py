"""Hold pages, mounted at /holds/ by qms/urls.py."""
from django.urls import path

from traceability import holds_views as views

urlpatterns = [
    path("", views.HoldListView.as_view(), name="hold-list"),
    path("new/", views.HoldCreateView.as_view(), name="hold-create"),
    path("<int:pk>/", views.HoldDetailView.as_view(), name="hold-detail"),
    path("<int:pk>/lots/<int:entry_id>/dispose/", views.HoldLotDisposeView.as_view(), name="hold-lot-dispose"),
    path("<int:pk>/release/", views.HoldReleaseView.as_view(), name="hold-release"),
    path("<int:pk>/close-window/", views.HoldCloseWindowView.as_view(), name="hold-close-window"),
]
