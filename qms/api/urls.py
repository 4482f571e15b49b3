"""/api/v1/ — each area owns its own url module; this file only stitches them together."""
from django.urls import include, path

urlpatterns = [
    path("", include("traceability.verdicts.urls")),  # first: the MES hot path resolves in one step
    path("", include("qms.api.plant_urls")),
    path("", include("qms.api.dictionary_urls")),
    path("", include("qms.api.ingest_urls")),
    path("", include("qms.api.events_urls")),
    path("", include("qms.api.reaction_rules_urls")),
    path("", include("qms.api.alarms_urls")),
    path("", include("qms.api.capa_urls")),
    path("", include("qms.api.reports_urls")),
    path("", include("qms.api.nc_urls")),
    path("", include("qms.api.admin_urls")),
    path("", include("spc.api_urls")),
    path("", include("traceability.api_urls")),
    path("", include("connectors.api_urls")),
]
