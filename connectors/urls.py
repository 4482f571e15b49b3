"""Connector pages, mounted at /connectors/."""
from django.urls import include, path

from connectors import views

urlpatterns = [
    path("", views.ConnectorListView.as_view(), name="connector-list"),
    path("new/", views.ConnectorCreateView.as_view(), name="connector-create"),
    path("<int:pk>/", views.ConnectorDetailView.as_view(), name="connector-detail"),
    path("<int:pk>/edit/", views.ConnectorEditView.as_view(), name="connector-edit"),
    path("<int:pk>/tags/", views.ConnectorTagsView.as_view(), name="connector-tags"),
    path("<int:pk>/browse/", views.ConnectorBrowseView.as_view(), name="connector-browse"),
    path("", include("connectors.files.web_urls")),   # <id>/imports/ (connector-imports)
]
