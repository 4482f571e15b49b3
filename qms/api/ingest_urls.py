"""Ingestion endpoints: measurements (write + read-back) and the dead letters of rejected items."""
from django.urls import path
from rest_framework.routers import SimpleRouter

from qms.api.dead_letters import DeadLetterViewSet
from qms.api.measurements import MeasurementView

router = SimpleRouter()
router.register("dead-letters", DeadLetterViewSet, basename="api-dead-letter")

urlpatterns = [
    path("measurements/", MeasurementView.as_view(), name="measurements"),
    *router.urls,
]
