"""Websocket routes of the live alarm pages (included by qms/routing.py)."""
from django.urls import path

from qms.live.consumers import AlarmFeedConsumer

websocket_urlpatterns = [
    path("ws/alarms/", AlarmFeedConsumer.as_asgi()),
]
