from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from qms.web.capa_urls import task_patterns
from qms.web.story_urls import capa_report_patterns, story_patterns

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("api/v1/", include("qms.api.urls")),
    path("spc/", include("spc.urls")),
    path("connectors/", include("connectors.urls")),
    path("rules/", include("qms.web.rules_urls")),
    path("trace/", include("traceability.trace_urls")),
    path("holds/", include("traceability.holds_urls")),
    path("nc/", include("qms.web.nc_urls")),
    path("notifications/", include("qms.web.notification_urls")),
    path("alarms/", include("qms.live.urls")),
    path("reports/", include("qms.web.reports_urls")),
    path("story/", include(story_patterns)),
    path("capas/", include(capa_report_patterns)),  # the 8D report beside the CAPA pages (qms.web.story_urls)
    path("capas/", include("qms.web.capa_urls")),
    path("tasks/", include(task_patterns)),
    path("", include("qms.web.urls")),
]
# MEDIA_ROOT holds NC/CAPA attachments: never served as static, only through permission-checked views
# (/nc/attachments/<id>/, /api/v1/attachments/<id>/download/).
