"""/api/v1/connectors/ (CRUD, status, browse, commands) and /api/v1/metrics (Prometheus)."""
from django.urls import path
from rest_framework.routers import SimpleRouter

from connectors.api import ConnectorViewSet
from connectors.metrics import metrics_view

router = SimpleRouter()
router.register("connectors", ConnectorViewSet, basename="connector")

urlpatterns = [*router.urls, path("metrics", metrics_view, name="connector-metrics")]
