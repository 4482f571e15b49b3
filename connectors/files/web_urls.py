"""The legacy-file import page; included under /connectors/ by connectors/urls.py."""
from django.urls import path

from .web import ConnectorImportsPage

urlpatterns = [path("<int:pk>/imports/", ConnectorImportsPage.as_view(), name="connector-imports")]
