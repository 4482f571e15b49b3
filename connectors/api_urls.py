"""/api/v1/connectors/ (CRUD, status, browse, commands) and /api/v1/metrics (Prometheus text format)."""
from django.urls import path
from rest_framework.routers import SimpleRouter

from connectors.api import ConnectorViewSet
from connectors.metrics import MetricsView

router = SimpleRouter()
router.register("connectors", ConnectorViewSet, basename="connector")

urlpatterns = [*router.urls, path("metrics", MetricsView.as_view(), name="connector-metrics")]
