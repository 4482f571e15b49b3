"""The project's URLs plus the file-import page, until connectors/urls.py includes connectors.files.web_urls."""
from django.urls import include, path

from qms.urls import urlpatterns as project_urlpatterns

urlpatterns = [path("connectors/", include("connectors.files.web_urls")), *project_urlpatterns]
