"""URL conf of the MES lane (lane.py): the verdict routes and nothing else.

Its error handlers answer without a template: Django's default ones render the site's 404.html/500.html, whose
navigation reverses the site's URLs, which this URL conf does not have. ApiErrorMiddleware turns every one of these
answers into the API's JSON error body, as it does on the full stack.
"""
from django.http import HttpResponse
from django.urls import include, path

urlpatterns = [path("api/v1/", include("traceability.verdicts.urls"))]


def _status_only(status: int):
    def handler(request, exception=None):
        return HttpResponse(status=status, content_type="text/plain")

    return handler


handler400 = _status_only(400)
handler403 = _status_only(403)
handler404 = _status_only(404)
handler500 = _status_only(500)
