"""Bench-only URL conf (used by bench/verdicts.py through bench/verdicts_settings.py, never in production): the
real URLs plus the ceiling — a bare Django view that reads one Redis key, through the same middleware."""
import os

import redis
from django.http import HttpResponse
from django.urls import include, path

_client = redis.Redis.from_url(os.environ["REDIS_URL"])
BARE_KEY = "qp:bench:bare"


def bare_redis_view(request):
    return HttpResponse(_client.get(BARE_KEY), content_type="application/json")


urlpatterns = [path("bench/bare/", bare_redis_view), path("", include("qms.urls"))]
