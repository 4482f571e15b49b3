from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from qms.auth.scoping import SESSION_SITE_KEY, allowed_site_ids, current_site
from qms.web import overview
from qms.web.access import site_time_zone


@login_required
def home(request):
    site = current_site(request)
    if site is None:
        return render(request, "qms/no_site.html", status=403)
    user = request.user
    context = {"site": site, "tiles": overview.tiles_for(site, user)}
    if user.has_perm("traceability.view_lotrun"):
        context["running_runs"] = overview.running_lot_runs(site).select_related("lot", "equipment").order_by(
            "-started_at"
        )[:10]
    if user.has_perm("qms.view_characteristic"):
        context["silent"], context["silent_count"] = overview.silent_characteristics(site)
    if user.has_perm("qms.view_auditentry"):
        context["audit_entries"] = overview.recent_audit_entries(site)
    elif user.has_perm("qms.view_characteristic"):
        context["dictionary_changes"] = overview.recent_dictionary_changes(site)
    with site_time_zone(site):
        return render(request, "qms/home.html", context)


@login_required
@require_POST
def switch_site(request):
    try:
        site_id = int(request.POST.get("site", ""))
    except ValueError:
        return HttpResponseBadRequest(_("The site must be given by its number."))
    if site_id not in allowed_site_ids(request.user):
        return HttpResponseBadRequest(_("You do not belong to that site."))
    request.session[SESSION_SITE_KEY] = site_id
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        target = "/"
    return redirect(target)
