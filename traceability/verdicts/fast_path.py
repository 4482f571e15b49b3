"""The MES fast path: the happy path of the verdict lane, answered at the WSGI level without the Django handler.

Nearly every MES request is the same one: a machine token asks for the verdict of a known lot (or a batch of known
lots). Through the lane (lane.py) its answer costs a request object, nine middleware calls, URL resolution, two
request signals and a response object; the work that decides it is one token-cache look-up and one Redis MGET. The
fast path does only that work, and only when the answer is certainly the lane's, byte for byte:

    GET/HEAD /api/v1/verdicts/lots/<code>/  and  POST /api/v1/verdicts/query/
    a Bearer token whose grant is already in access.py's cache and lets it read (not revoked, not expired, scoped,
        ?site= its own)                                                       access.cached_token_site
    every lot found in Redis without the database (epoch not due for its re-check)  store.cached_verdict_bodies
    a valid Host (ALLOWED_HOSTS), no session, language or CSRF cookie, no HTTPS redirect due,
        no DISALLOWED_USER_AGENTS / PREPEND_WWW, a batch that parses (views.parse_lots)

Anything else — a grant not cached, an unknown lot, an error, a signed-in user, Redis down or the epoch due — is handed
to the lane unchanged (a POST's body, already read, is handed on in a fresh stream), and the lane answers as it always
has. The answer bodies are the views' own (views.lot_answer / batch_answer); the headers are those the lane's middleware
adds to a 200 answer (`headers` below). tests/verdicts/test_fast_path.py compares the two request by request.

settings.VERDICT_FAST_PATH (env VERDICT_FAST_PATH, default on) turns it off. It is on only while the lane's
middleware is exactly LANE_MIDDLEWARE and the lane's URL conf sends the two paths to the two views without language
prefixes: a middleware added to the project, or a changed route, turns it off (the lane then answers everything, as
before) until this module is taught what the change adds.

Request signals: the fast path sends neither request_started nor request_finished. Their receivers are
close_old_connections (database connection recycling), reset_queries (the DEBUG query log), close_caches (Django's
cache backends) and reset_urlconf; the fast path uses none of these — no database query (a grant not cached, a cache
miss and the epoch's re-check against the database all go to the lane), no Django cache, no URL resolution. The lane
still serves every process a request at least every VALIDATE_EVERY_S (the epoch's re-check), so a connection past
its age is recycled there as before.
"""
from __future__ import annotations

import io
import logging

from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.core.exceptions import DisallowedHost, RequestDataTooBig, SuspiciousOperation
from django.core.handlers.wsgi import WSGIRequest
from django.http import UnreadablePostError
from django.http.cookie import parse_cookie
from django.middleware.security import SecurityMiddleware
from django.urls import Resolver404, resolve
from django.utils import translation

from traceability.verdicts.access import cached_token_site
from traceability.verdicts.store import cached_verdict_bodies, verdict_cache
from traceability.verdicts.views import batch_answer, lot_answer, lot_verdict, parse_lots, query_verdicts

logger = logging.getLogger(__name__)

LOTS = "/api/v1/verdicts/lots/"
QUERY = "/api/v1/verdicts/query/"
OK = "200 OK"

# The lane's middleware whose effect on a 200 token answer `headers` reproduces (none of the others may be added).
LANE_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",      # HTTPS redirect (-> lane); HSTS, nosniff, referrer, COOP
    "qms.api.errors.ApiErrorMiddleware",                  # reshapes errors only
    "django.contrib.sessions.middleware.SessionMiddleware",  # no session is read without a Cookie (-> lane)
    "django.middleware.locale.LocaleMiddleware",          # Vary: Accept-Language, Content-Language
    "django.middleware.common.CommonMiddleware",          # allowed hosts (-> lane), Content-Length
    "django.contrib.auth.middleware.AuthenticationMiddleware",  # the user is never read for a token
    "django.middleware.clickjacking.XFrameOptionsMiddleware",  # X-Frame-Options
]


class _Unreadable:
    """The request body as the lane reads it after the fast path failed to: the same fault again."""

    def __init__(self, fault: OSError):
        self.fault = fault

    def read(self, size=-1):
        raise self.fault

    readline = read


def fast_path_applies(middleware: list[str], urlconf: str) -> bool:
    """Whether the lane's middleware and URL conf are those the fast path reproduces."""
    if middleware != LANE_MIDDLEWARE or not settings.USE_I18N:  # (`headers` gives Content-Language as with i18n)
        return False
    if is_language_prefix_patterns_used(urlconf) != (False, False):
        return False
    try:
        one, many = resolve(f"{LOTS}L-1/", urlconf), resolve(QUERY, urlconf)
    except Resolver404:
        return False
    return (one.func, one.kwargs, many.func, many.kwargs) == (lot_verdict, {"lot_code": "L-1"}, query_verdicts, {})


def _names_a_django_cookie(environ) -> bool:
    """Whether the request carries a cookie the lane would read: the session (a signed-in user), the language or the
    CSRF token. Other cookies — a load balancer's sticky-session cookie — change nothing in the lane's answer."""
    cookie = environ.get("HTTP_COOKIE")
    if not cookie:
        return False
    names = parse_cookie(cookie)
    return any(name in names for name in (settings.SESSION_COOKIE_NAME, settings.LANGUAGE_COOKIE_NAME,
                                          settings.CSRF_COOKIE_NAME))


class VerdictFastPath:
    """The WSGI application of the MES lane: the fast path when it applies, else `lane` (a VerdictLaneHandler)."""

    def __init__(self, lane):
        self.lane = lane
        self.enabled = settings.VERDICT_FAST_PATH and fast_path_applies(lane.middleware, lane.urlconf)
        # SecurityMiddleware reads its settings once, when the lane builds its chain; so does the fast path.
        self.security = SecurityMiddleware(lambda request: None)

    def __call__(self, environ, start_response):
        if self.enabled:
            try:
                answer = self.answer(environ)
            except SuspiciousOperation:  # e.g. too many query fields: the lane refuses the same request and Django
                answer = None            # reports it (django.security); not a fault of the fast path
            except Exception:  # a fault of the fast path must never cost MES its verdict: the lane answers
                logger.exception("verdict fast path failed; the lane answers")
                answer = None
            if answer is not None:
                start_response(OK, answer[1])
                return [answer[0]]
        return self.lane(environ, start_response)

    def answer(self, environ) -> tuple[bytes, list[tuple[str, str]]] | None:
        """(body, headers) of the lane's 200 answer, or None: the lane answers."""
        method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
        if not (path.startswith(LOTS) if method in ("GET", "HEAD") else method == "POST" and path == QUERY):
            return None
        if settings.DISALLOWED_USER_AGENTS or settings.PREPEND_WWW or _names_a_django_cookie(environ):
            return None
        if verdict_cache() is None:  # the embedded default reads the database
            return None
        request = WSGIRequest(dict(environ))  # a copy: WSGIRequest rewrites PATH_INFO, the lane must get it as sent
        secure = request.is_secure()
        if self.security.redirect and not secure:
            return None
        try:
            request.get_host()
        except DisallowedHost:
            return None
        site_id = cached_token_site(request)
        if site_id is None:
            return None
        if request.method == "POST":
            try:
                raw = request.body
            except RequestDataTooBig:  # refused before reading: the stream is untouched
                return None
            except UnreadablePostError as exc:  # part of the stream may be gone: the lane must meet the same fault
                environ["wsgi.input"] = _Unreadable(exc.__cause__ or OSError(*exc.args))  # (its 500), not the rest
                return None
            environ["wsgi.input"] = io.BytesIO(raw)  # from here on the lane reads the body from this copy
            try:
                lots = parse_lots(raw)
            except ValueError:
                return None
            bodies = cached_verdict_bodies(site_id, lots)
            body = None if bodies is None else batch_answer(lots, bodies)
        else:
            code = request.path_info[len(LOTS):-1]
            if not request.path_info.endswith("/") or not code or "/" in code:
                return None
            bodies = cached_verdict_bodies(site_id, [code])
            body = None if bodies is None else lot_answer(bodies[code])
        if body is None:
            return None
        return body, self.headers(body, secure, translation.get_language_from_request(request))

    def headers(self, body: bytes, secure: bool, language: str) -> list[tuple[str, str]]:
        """The headers of the lane's 200 answer, in its order: the view's, then each middleware's on the way out
        (innermost first)."""
        security = self.security
        headers = [
            ("Content-Type", "application/json"),
            ("X-Frame-Options", getattr(settings, "X_FRAME_OPTIONS", "DENY").upper()),
            ("Content-Length", str(len(body))),
            ("Vary", "Accept-Language"),
            ("Content-Language", translation.to_language(language)),
        ]
        if security.sts_seconds and secure:
            hsts = f"max-age={security.sts_seconds}"
            if security.sts_include_subdomains:
                hsts += "; includeSubDomains"
            if security.sts_preload:
                hsts += "; preload"
            headers.append(("Strict-Transport-Security", hsts))
        if security.content_type_nosniff:
            headers.append(("X-Content-Type-Options", "nosniff"))
        if security.referrer_policy:
            policy = security.referrer_policy
            headers.append(("Referrer-Policy", ",".join(
                [value.strip() for value in policy.split(",")] if isinstance(policy, str) else policy)))
        if security.cross_origin_opener_policy:
            headers.append(("Cross-Origin-Opener-Policy", security.cross_origin_opener_policy))
        return headers
