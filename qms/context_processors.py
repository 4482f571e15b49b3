from qms.auth.scoping import allowed_site_ids, current_site
from qms.models import Site


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "current_site": current_site(request),
        "user_sites": Site.objects.filter(pk__in=allowed_site_ids(user)).order_by("code"),
    }
