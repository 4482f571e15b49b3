"""Bench-only URL conf (used by bench/verdicts.py through bench/verdicts_settings.py, never in production): the
real URLs plus a bare Django view that reads one Redis key, through the full middleware stack (the ceiling itself,
through the MES lane as the verdicts, is in bench/verdicts_lane_urls.py) — and, for
comparison, the single-lot verdict served through DRF (token authentication, scope permission, throttle, renderer)."""
import os

import orjson
import redis
from django.http import HttpResponse
from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView

from qms.api.errors import ApiError
from traceability.verdicts.store import now_iso, verdict_bodies

_client = redis.Redis.from_url(os.environ["REDIS_URL"])
BARE_KEY = "qp:bench:bare"


def bare_redis_view(request):
    return HttpResponse(_client.get(BARE_KEY), content_type="application/json")


class DrfVerdictView(APIView):
    token_scopes = {"GET": "verdicts:read"}
    user_perms = {"GET": ["traceability.view_lot"]}

    def get(self, request, lot_code):
        body = verdict_bodies(request.auth.site_id, [lot_code]).get(lot_code)
        if body is None:
            raise ApiError("unknown lot", code="unknown_lot", status_code=404)
        data = orjson.loads(body + b"}")
        data["checked_at"] = now_iso()
        return Response(data)


urlpatterns = [
    path("bench/bare/", bare_redis_view),
    # the ceiling's address in the MES lane (bench/verdicts_lane_urls.py); here for servers without the lane (ASGI)
    path("api/v1/verdicts/bench/bare/", bare_redis_view),
    path("bench/drf/verdicts/lots/<str:lot_code>/", DrfVerdictView.as_view()),
    path("", include("qms.urls")),
]
