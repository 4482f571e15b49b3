"""/api/v1/connectors/ (CRUD, status, browse, commands), the legacy-file imports (connectors/{id}/imports/,
imports/{id}/) and /api/v1/metrics (Prometheus text format)."""
from django.urls import include, path
from rest_framework.routers import SimpleRouter

from connectors.api import ConnectorViewSet
from connectors.metrics import MetricsView

router = SimpleRouter()
router.register("connectors", ConnectorViewSet, basename="connector")

urlpatterns = [
    *router.urls,
    path("", include("connectors.files.api_urls")),
    path("metrics", MetricsView.as_view(), name="connector-metrics"),
]
