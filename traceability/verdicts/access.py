"""Who may read verdicts, and for which site — lean (no DRF) so the MES hot path stays short.

Machine tokens (`Authorization: Bearer <token>`, scope `verdicts:read`) are looked up by their SHA-256 and the
answer is kept in-process for TOKEN_CACHE_TTL_S seconds: a revoked token stops working within that time (expiry is
checked on every request). Signed-in users need `traceability.view_lot` and membership of the site; with several
sites they name one with ?site=<code> (else their current site in the UI).
"""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.middleware.csrf import CsrfViewMiddleware
from django.utils.translation import gettext as _

from qms.auth.scoping import allowed_site_ids, current_site
from qms.auth.tokens import hash_token
from qms.models import ApiToken, Site

TOKEN_CACHE_TTL_S = 5.0
TOKEN_CACHE_MAX = 10_000
SCOPE = ApiToken.Scope.VERDICTS_READ.value
USER_PERMISSION = "traceability.view_lot"
_LAST_USED_EVERY = timedelta(seconds=60)


class AccessDenied(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class TokenGrant(NamedTuple):
    token_id: int
    site_id: int
    site_code: str
    scopes: frozenset
    revoked_at: datetime | None
    expires_at: datetime | None


_grants: dict[str, tuple[float, TokenGrant | None]] = {}


def forget_cached_tokens() -> None:
    _grants.clear()


_NOT_CACHED = object()


def _cached_grant(digest: str):
    """The grant cached for this token digest (None: no such token), or _NOT_CACHED when none is or its time is up."""
    cached = _grants.get(digest)
    if cached is None or cached[0] <= time.monotonic():
        return _NOT_CACHED
    return cached[1]


def _grant(raw: str) -> TokenGrant | None:
    digest = hash_token(raw)
    cached = _cached_grant(digest)
    if cached is not _NOT_CACHED:
        return cached
    now = time.monotonic()
    token = ApiToken.objects.select_related("site").filter(token_hash=digest).first()
    grant = None
    if token is not None:
        grant = TokenGrant(token.pk, token.site_id, token.site.code, frozenset(token.scopes), token.revoked_at,
                           token.expires_at)
        wall = datetime.now(UTC)
        if token.revoked_at is None and (token.last_used_at is None or wall - token.last_used_at > _LAST_USED_EVERY):
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=wall)
    if len(_grants) >= TOKEN_CACHE_MAX:
        _grants.clear()
    _grants[digest] = (now + TOKEN_CACHE_TTL_S, grant)
    return grant


def _token_site(header: str, site_code: str | None) -> int:
    parts = header.split()
    if len(parts) != 2:
        raise AccessDenied(401, "malformed_token", _("Malformed Authorization header: expected 'Bearer <token>'."))
    return _granted_site(_grant(parts[1]), site_code)


def _granted_site(grant: TokenGrant | None, site_code: str | None) -> int:
    if grant is None:
        raise AccessDenied(401, "unknown_token", _("Unknown API token."))
    if grant.revoked_at is not None:
        raise AccessDenied(401, "token_revoked", _("This API token was revoked at %(when)s; ask an administrator "
                                                   "for a new one.") % {"when": grant.revoked_at.isoformat()})
    if grant.expires_at is not None and grant.expires_at <= datetime.now(UTC):
        raise AccessDenied(401, "token_expired", _("This API token expired at %(when)s; ask an administrator for "
                                                   "a new one.") % {"when": grant.expires_at.isoformat()})
    if SCOPE not in grant.scopes:
        raise AccessDenied(403, "missing_scope", _("This token lacks the '%(scope)s' scope.") % {"scope": SCOPE})
    if site_code and site_code != grant.site_code:
        raise AccessDenied(403, "permission_denied",
                           _("This token belongs to site %(site)s.") % {"site": grant.site_code})
    return grant.site_id


def _user_site(request, site_code: str | None) -> int:
    user = request.user
    if not user.is_authenticated:
        raise AccessDenied(401, "not_authenticated", _("Authentication credentials were not provided."))
    if request.method == "POST":
        rejected = CsrfViewMiddleware(lambda req: None).process_view(request, None, (), {})
        if rejected is not None:
            raise AccessDenied(403, "csrf_failed", _("CSRF check failed: send the CSRF token with a signed-in POST."))
    if not user.has_perm(USER_PERMISSION):
        raise AccessDenied(403, "role_forbidden", _("Your role does not allow this action."))
    allowed = allowed_site_ids(user)
    if site_code:
        site_id = Site.objects.filter(code=site_code).values_list("pk", flat=True).first()
        if site_id is None or site_id not in allowed:
            raise AccessDenied(403, "permission_denied", _("Unknown site or no access: %(site)s") % {"site": site_code})
        return site_id
    if len(allowed) == 1:
        return next(iter(allowed))
    site = current_site(request)
    if site is not None and site.pk in allowed:
        return site.pk
    if not allowed:
        raise AccessDenied(403, "permission_denied", _("You do not belong to any site."))
    raise AccessDenied(400, "site_required", _("Name the site with ?site=<code>: you belong to several."))


def site_for_request(request) -> int:
    """The site whose verdicts the requester may read; raises AccessDenied (401/403/400)."""
    site_code = request.GET.get("site") or None
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header[:7].lower() == "bearer " or header.lower() == "bearer":
        return _token_site(header, site_code)
    return _user_site(request, site_code)


def cached_token_site(request) -> int | None:
    """What site_for_request answers for a machine token whose grant is in this process' cache and lets it read —
    without touching the database (the MES fast path, fast_path.py). None for everything else: signed-in users, a
    grant not cached (or its TOKEN_CACHE_TTL_S over), a request that would be refused; site_for_request answers
    those. Same cache, same checks, so a revoked token is refused here exactly when site_for_request refuses it."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header[:7].lower() != "bearer ":
        return None
    parts = header.split()
    if len(parts) != 2:
        return None
    grant = _cached_grant(hash_token(parts[1]))
    if grant is _NOT_CACHED or grant is None:
        return None
    try:
        return _granted_site(grant, request.GET.get("site") or None)
    except AccessDenied:
        return None
