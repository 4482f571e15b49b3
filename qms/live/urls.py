"""Pages of the live alarm list and the alarm detail (mounted at /alarms/ by qms/urls.py)."""
from django.urls import path

from qms.live import views

urlpatterns = [
    path("", views.AlarmLiveView.as_view(), name="alarm-live"),
    path("<int:pk>/", views.AlarmDetailView.as_view(), name="alarm-detail"),
    path("<int:pk>/acknowledge/", views.AcknowledgeView.as_view(), name="alarm-acknowledge"),
    path("<int:pk>/shelve/", views.ShelveView.as_view(), name="alarm-shelve"),
    path("<int:pk>/unshelve/", views.UnshelveView.as_view(), name="alarm-unshelve"),
    path("<int:pk>/clear/", views.ClearView.as_view(), name="alarm-clear"),
    path("<int:pk>/close/", views.CloseView.as_view(), name="alarm-close"),
]
