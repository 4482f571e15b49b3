from django.urls import path

from qms.web.views import notifications

urlpatterns = [
    path("", notifications.NotificationListView.as_view(), name="notification-list"),
    path("read/", notifications.NotificationMarkReadView.as_view(), name="notification-mark-read"),
]
