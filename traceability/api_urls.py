"""/api/v1/ routes of traceability: lots, their runs, genealogy edges."""
from django.urls import path

from traceability.api.holds import (
    HoldCloseWindowView,
    HoldDetailView,
    HoldListView,
    HoldLotDisposeView,
    HoldLotsView,
    HoldReleaseView,
)
from traceability.api.trace import LotSerialsView, LotTraceView, SerialDetailView
from traceability.api.views import (
    GenealogyView,
    LotDetailView,
    LotEndView,
    LotListView,
    LotRunDetailView,
    LotRunsView,
    RunListView,
)

urlpatterns = [
    path("lots/", LotListView.as_view(), name="api-lots"),
    path("lots/<str:code>/", LotDetailView.as_view(), name="api-lot"),
    path("lots/<str:code>/runs/", LotRunsView.as_view(), name="api-lot-runs"),
    path("lots/<str:code>/runs/<int:run_id>/", LotRunDetailView.as_view(), name="api-lot-run"),
    path("lots/<str:code>/end/", LotEndView.as_view(), name="api-lot-end"),
    path("lots/<str:code>/trace/", LotTraceView.as_view(), name="api-lot-trace"),
    path("lots/<str:code>/serials/", LotSerialsView.as_view(), name="api-lot-serials"),
    path("serials/<str:serial>/", SerialDetailView.as_view(), name="api-serial"),
    path("lot-runs/", RunListView.as_view(), name="api-lot-run-list"),
    path("genealogy/", GenealogyView.as_view(), name="api-genealogy"),
    path("holds/", HoldListView.as_view(), name="api-holds"),
    path("holds/<int:hold_id>/", HoldDetailView.as_view(), name="api-hold"),
    path("holds/<int:hold_id>/lots/", HoldLotsView.as_view(), name="api-hold-lots"),
    path("holds/<int:hold_id>/lots/<str:lot_code>/dispose/", HoldLotDisposeView.as_view(), name="api-hold-lot-dispose"),
    path("holds/<int:hold_id>/release/", HoldReleaseView.as_view(), name="api-hold-release"),
    path("holds/<int:hold_id>/close-window/", HoldCloseWindowView.as_view(), name="api-hold-close-window"),
]
