"""URLs of the legacy-file import API; included under /api/v1/ by the connectors' url module. Names end in `-api`:
`connector-imports` is the import page (connectors/files/web_urls.py)."""
from django.urls import path

from .api import ConnectorImportsView, ImportedFileDetailView

urlpatterns = [
    path("connectors/<int:connector_id>/imports/", ConnectorImportsView.as_view(), name="connector-imports-api"),
    path("imports/<int:pk>/", ImportedFileDetailView.as_view(), name="imported-file-api"),
]
