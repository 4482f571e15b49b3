"""/api/v1/capas/, /api/v1/root-causes/, /api/v1/actions/, /api/v1/instructions/ (docs/capa.md)."""
from django.urls import path

from qms.api import capa

STEP = "capas/<int:pk>/steps/<str:step>/"

urlpatterns = [
    path("capas/", capa.CapaListView.as_view(), name="api-capa-list"),
    path("capas/<int:pk>/", capa.CapaDetailView.as_view(), name="api-capa-detail"),
    path(STEP, capa.StepView.as_view(), name="api-capa-step"),
    path(f"{STEP}submit/", capa.SubmitStepView.as_view(), name="api-capa-step-submit"),
    path(f"{STEP}approve/", capa.ApproveStepView.as_view(), name="api-capa-step-approve"),
    path(f"{STEP}reopen/", capa.ReopenStepView.as_view(), name="api-capa-step-reopen"),
    path("capas/<int:pk>/root-causes/", capa.RootCauseListView.as_view(), name="api-capa-root-causes"),
    path("root-causes/<int:pk>/", capa.RootCauseDetailView.as_view(), name="api-root-cause-detail"),
    path("capas/<int:pk>/effectiveness/", capa.EffectivenessView.as_view(), name="api-capa-effectiveness"),
    path("capas/<int:pk>/close/", capa.CloseView.as_view(), name="api-capa-close"),
    path("capas/<int:pk>/cancel/", capa.CancelView.as_view(), name="api-capa-cancel"),
    path("actions/", capa.ActionListView.as_view(), name="api-action-list"),
    path("actions/<int:pk>/complete/", capa.CompleteActionView.as_view(), name="api-action-complete"),
    path("actions/<int:pk>/cancel/", capa.CancelActionView.as_view(), name="api-action-cancel"),
    path("instructions/", capa.InstructionListView.as_view(), name="api-instructions"),
]
