"""/capas/ — the 8D pages (the printable report sits beside them, qms.web.story_urls) and /tasks/."""
from django.urls import path

from qms.web.views import capa

urlpatterns = [
    path("", capa.CapaListView.as_view(), name="capa-list"),
    path("new/", capa.CapaCreateView.as_view(), name="capa-create"),
    path("<int:pk>/", capa.CapaDetailView.as_view(), name="capa-detail"),
    path("<int:pk>/<str:operation>/", capa.CapaDetailView.as_view(), name="capa-operation"),
    path("<int:pk>/steps/<str:step>/<str:operation>/", capa.CapaDetailView.as_view(), name="capa-step-operation"),
]

task_patterns = [
    path("", capa.TaskListView.as_view(), name="task-list"),
    path("<int:pk>/complete/", capa.TaskListView.as_view(), name="task-complete"),
]
