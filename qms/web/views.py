from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from qms.auth.scoping import SESSION_SITE_KEY, allowed_site_ids, current_site


@login_required
def home(request):
    return render(request, "qms/home.html", {"site": current_site(request)})


@login_required
@require_POST
def switch_site(request):
    try:
        site_id = int(request.POST.get("site", ""))
    except ValueError:
        return HttpResponseBadRequest("site must be a number")
    if site_id not in allowed_site_ids(request.user):
        return HttpResponseBadRequest("no access to that site")
    request.session[SESSION_SITE_KEY] = site_id
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    return redirect(target)
