"""Websocket routes of the SPC pages (included by qms/routing.py)."""
from django.urls import path

from spc.consumers import ChartConsumer

websocket_urlpatterns = [
    path("ws/spc/characteristics/<int:pk>/", ChartConsumer.as_asgi()),
]
