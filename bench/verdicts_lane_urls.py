"""Bench-only URL conf of the MES lane (through bench/verdicts_settings.py, never in production): the verdict routes
plus the ceiling — the bare view reading one Redis key — so the ceiling pays exactly the lane the verdicts pay."""
from django.urls import include, path

from bench.verdicts_urls import bare_redis_view

urlpatterns = [
    path("api/v1/verdicts/bench/bare/", bare_redis_view),
    path("", include("traceability.verdicts.lane_urls")),
]

from traceability.verdicts.lane_urls import handler400, handler403, handler404, handler500  # noqa: E402,F401
