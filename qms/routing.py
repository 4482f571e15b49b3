"""Websocket routes. Later issues (live alarm pages, live charts) add their consumers here."""
from qms.live.routing import websocket_urlpatterns as alarm_websocket_urlpatterns
from spc.routing import websocket_urlpatterns as spc_websocket_urlpatterns

websocket_urlpatterns: list = [*spc_websocket_urlpatterns, *alarm_websocket_urlpatterns]
