from django.urls import path

from qms.api import alarms

urlpatterns = [
    path("alarms/", alarms.AlarmListView.as_view(), name="api-alarm-list"),
    path("alarms/events/", alarms.AlarmEventLogView.as_view(), name="api-alarm-events"),
    path("alarms/kpis/", alarms.AlarmKpiView.as_view(), name="api-alarm-kpis"),
    path("alarms/<int:pk>/", alarms.AlarmDetailView.as_view(), name="api-alarm-detail"),
    path("alarms/<int:pk>/acknowledge/", alarms.AcknowledgeView.as_view(), name="api-alarm-acknowledge"),
    path("alarms/<int:pk>/clear/", alarms.ClearView.as_view(), name="api-alarm-clear"),
    path("alarms/<int:pk>/close/", alarms.CloseView.as_view(), name="api-alarm-close"),
    path("alarms/<int:pk>/shelve/", alarms.ShelveView.as_view(), name="api-alarm-shelve"),
    path("alarms/<int:pk>/unshelve/", alarms.UnshelveView.as_view(), name="api-alarm-unshelve"),
]
