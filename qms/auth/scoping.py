"""Site scoping: a user sees only the sites they belong to; a machine token only its own site."""
from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework.exceptions import PermissionDenied, ValidationError

from qms.auth.permissions import request_token
from qms.models import Site, SiteMembership


def allowed_site_ids(request_or_user) -> set[int]:
    token = request_token(request_or_user) if hasattr(request_or_user, "user") else None
    if token is not None:
        return {token.site_id}
    user = getattr(request_or_user, "user", request_or_user)
    if user is None or not user.is_authenticated:
        return set()
    if user.is_superuser:
        return set(Site.objects.values_list("id", flat=True))
    return set(SiteMembership.objects.filter(user=user).values_list("site_id", flat=True))


SESSION_SITE_KEY = "qp_site_id"


def current_site(request) -> Site | None:
    """The site a signed-in user is looking at: the session's choice, else their first site. Cached per request."""
    if hasattr(request, "_qp_current_site"):
        return request._qp_current_site
    site = None
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and request_token(request) is None:
        allowed = allowed_site_ids(user)
        wanted = request.session.get(SESSION_SITE_KEY) if hasattr(request, "session") else None
        if wanted in allowed:
            site = Site.objects.filter(pk=wanted).first()
        elif allowed:
            site = Site.objects.filter(pk__in=allowed).order_by("code").first()
    request._qp_current_site = site
    return site


def resolve_write_site(request, site_code: str | None = None) -> Site:
    """The site a write lands in: the token's site, or the user's named/only site."""
    token = request_token(request)
    if token is not None:
        if site_code and site_code != token.site.code:
            raise PermissionDenied(_("This token belongs to site %(site)s.") % {"site": token.site.code})
        return token.site
    allowed = allowed_site_ids(request)
    if site_code:
        site = Site.objects.filter(code=site_code).first()
        if site is None or site.pk not in allowed:
            raise PermissionDenied(_("Unknown site or no access: %(site)s") % {"site": site_code})
        return site
    current = current_site(getattr(request, "_request", request))
    if current is not None and current.pk in allowed:
        return current
    if len(allowed) == 1:
        return Site.objects.get(pk=next(iter(allowed)))
    raise ValidationError({"site": _("Name the site: you belong to several.")})


class SiteScopedQuerysetMixin:
    """For DRF views: filter `queryset` to the requester's sites along `site_lookup` (an ORM path to Site)."""

    site_lookup = "site"

    def get_queryset(self):
        queryset = super().get_queryset()
        queryset = queryset.filter(**{f"{self.site_lookup}__in": allowed_site_ids(self.request)})
        site_code = self.request.query_params.get("site")
        if site_code:
            queryset = queryset.filter(**{f"{self.site_lookup}__code": site_code})
        return queryset
