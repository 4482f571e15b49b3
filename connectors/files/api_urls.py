"""URLs of the legacy-file import API; included under /api/v1/ by the connectors' url module."""
from django.urls import path

from .api import ConnectorImportsView, ImportedFileDetailView

urlpatterns = [
    path("connectors/<int:connector_id>/imports/", ConnectorImportsView.as_view(), name="connector-imports"),
    path("imports/<int:pk>/", ImportedFileDetailView.as_view(), name="imported-file-detail"),
]
