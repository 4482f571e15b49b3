from django.conf import settings

from qms.auth.scoping import allowed_site_ids, current_site
from qms.models import Site
from qms.web.navigation import visible_items


def navigation(request):
    """The frame of every page: the user's sites, the site being looked at, the menu, the languages offered."""
    context = {"available_languages": settings.LANGUAGES}
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return context
    context.update(
        current_site=current_site(request),
        user_sites=Site.objects.filter(pk__in=allowed_site_ids(user)).order_by("code"),
        nav_items=visible_items(request),
    )
    return context


def notifications(request):
    """The unread-notification count in the header (one indexed COUNT per page; none for anonymous visitors)."""
    from qms.services.notifications import unread_count

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": unread_count(user)}
