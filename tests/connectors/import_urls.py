"""URL conf for the file-import API tests until the connectors' API url module includes connectors.files.api_urls."""
from django.urls import include, path

urlpatterns = [path("api/v1/", include("connectors.files.api_urls"))]
