"""The MES lane: requests under /api/v1/verdicts/ go through a Django handler with a shorter middleware stack.

The verdict views (views.py) are the MES hot path: every lot move asks for a verdict. They need from the middleware
stack only what shapes their answers and identifies signed-in users, so the lane runs the project's MIDDLEWARE minus
the entries in LANE_SKIPS — everything else, in the project's order, including whatever is added to MIDDLEWARE later
(a new middleware is in the lane unless it is deliberately listed here):

    kept:    SecurityMiddleware (HSTS, nosniff, referrer/COOP, HTTPS redirect), ApiErrorMiddleware (the API's error
             body for 404/500), SessionMiddleware + AuthenticationMiddleware (signed-in users), LocaleMiddleware
             (messages in the requester's language), CommonMiddleware (allowed hosts, trailing-slash redirect,
             Content-Length), XFrameOptionsMiddleware
    skipped: see LANE_SKIPS, each with its reason

The lane resolves against its own URL conf (LANE_URLCONF: the verdict routes only, so nothing else under PREFIX can
ever be reached with the shorter stack; an unknown path there is the API's JSON 404 as on the full stack). Same
views, same signals (database connections are recycled exactly as on the full stack).

In front of the lane sits its fast path (fast_path.py): a cached token asking for cached lots is answered without the
handler, byte for byte as the lane would; everything else reaches the lane unchanged.
Measured in-process with bench/verdicts_cpu.py and under load with bench/verdicts.py (docs/verdicts.md, Speed).
"""
from __future__ import annotations

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

from traceability.verdicts.fast_path import VerdictFastPath

PREFIX = "/api/v1/verdicts/"
LANE_URLCONF = "traceability.verdicts.lane_urls"

LANE_SKIPS = {
    # serves files under STATIC_URL only, which is never under PREFIX
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # the views are csrf_exempt: access.py runs CsrfViewMiddleware's own check for a signed-in POST (machine tokens
    # carry no cookies), and the views never issue a CSRF token, so the middleware would do nothing here
    "django.middleware.csrf.CsrfViewMiddleware",
    # binds the requester as the actor of audited changes; verdict reads change nothing that is audited
    "qms.middleware.ActorMiddleware",
    # flash messages of the HTML pages; the API neither shows nor adds any
    "django.contrib.messages.middleware.MessageMiddleware",
}


def lane_middleware(middleware: list[str]) -> list[str]:
    return [path for path in middleware if path not in LANE_SKIPS]


class VerdictLaneHandler(WSGIHandler):
    """A WSGIHandler whose middleware chain is `lane_middleware(settings.MIDDLEWARE)` and whose URL conf is
    settings.VERDICT_LANE_URLCONF (the bench adds its ceiling view there) or LANE_URLCONF."""

    def __init__(self):
        super().__init__()
        self.urlconf = getattr(settings, "VERDICT_LANE_URLCONF", LANE_URLCONF)

    def get_response(self, request):
        request.urlconf = self.urlconf  # Django resolves (and CommonMiddleware checks the slash) against it
        return super().get_response(request)

    def load_middleware(self, is_async=False):
        # BaseHandler.load_middleware reads settings.MIDDLEWARE; lend it the lane's list while the chain is built
        # (once, when the WSGI module is imported, before any request is served).
        full = settings.MIDDLEWARE
        self.middleware = settings.MIDDLEWARE = lane_middleware(full)
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


def with_verdict_lane(full_stack):
    """The WSGI application: PREFIX through the lane (behind its fast path, fast_path.py), everything else through
    `full_stack`."""
    lane = VerdictFastPath(VerdictLaneHandler())

    def application(environ, start_response):
        if environ.get("PATH_INFO", "").startswith(PREFIX):
            return lane(environ, start_response)
        return full_stack(environ, start_response)

    return application
