"""Websocket routes. Later issues (live alarm pages, live charts) add their consumers here."""
websocket_urlpatterns: list = []
