"""What every page of the web UI checks before it does anything: signed in, has a site, holds the role's permission.

Lists show the site the user is looking at (the site switcher's choice); a single record is reachable in any of the
user's sites, so a link shared by a colleague works, but never in a site the user does not belong to.
"""
from __future__ import annotations

import zoneinfo

from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from qms.auth.scoping import allowed_site_ids, current_site


def site_time_zone(site):
    """Show and read times in the plant's own time zone (a shift in Suzhou thinks in Asia/Shanghai, not UTC)."""
    try:
        zone = zoneinfo.ZoneInfo(site.timezone) if site is not None and site.timezone else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):  # a bad zone name in the site record must not break the UI
        zone = None
    return timezone.override(zone)


class SitePageMixin(AccessMixin):
    """Base of every site-scoped page. `permission_required` may be one permission name or several (all needed)."""

    permission_required: str | tuple[str, ...] = ()

    def get_permission_required(self) -> tuple[str, ...]:
        perms = self.permission_required
        return (perms,) if isinstance(perms, str) else tuple(perms)

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not request.user.has_perms(self.get_permission_required()):
            raise PermissionDenied
        self.site = current_site(request)
        if self.site is None:
            return render(request, "qms/no_site.html", status=403)
        with site_time_zone(self.site):
            response = super().dispatch(request, *args, **kwargs)
            # Render inside the block: a TemplateResponse would otherwise render after the time zone is reset.
            if hasattr(response, "render") and not response.is_rendered:
                response.render()
        return response

    def get_object_in_sites(self, queryset, site_lookup: str = "site", **lookup):
        """One record, 404 unless it belongs to one of the user's sites (never reveals other sites' records)."""
        allowed = allowed_site_ids(self.request.user)
        return get_object_or_404(queryset, **{f"{site_lookup}__in": allowed}, **lookup)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["site"] = self.site
        return context
