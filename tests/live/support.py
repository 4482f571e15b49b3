"""Helpers of the live alarm page tests: a plant with two sites, alarms raised through the alarm service, and a
websocket communicator on the real routing."""
from __future__ import annotations

from datetime import timedelta

from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from qms.audit.context import because
from qms.routing import websocket_urlpatterns
from qms.services.alarms import raise_alarm
from tests.factories import EquipmentFactory, LineFactory, SiteFactory, UserFactory


class Plant:
    def __init__(self):
        self.site = SiteFactory(code="S1", name="Suzhou demo plant")
        self.other_site = SiteFactory(code="S2", name="Other plant")
        self.line = LineFactory(code="L1", area__site=self.site)
        self.other_line = LineFactory(code="L2", area__site=self.site)
        self.machine = EquipmentFactory(code="IMM02", work_center__line=self.line, site=self.site)
        self.supervisor = UserFactory(username="supervisor", role="supervisor", sites=[self.site])
        self.outsider = UserFactory(username="no-role", sites=[self.site])


def raise_one(site, number: int, *, severity="critical", line=None, equipment=None):
    """A new alarm (its own source key) raised through the service, in its own transaction."""
    with because("test alarm"):
        return raise_alarm(site=site, source_key=f"test:{number}", alarm_type="deviation", severity=severity,
                           title=f"Barrel zone 2 deviation #{number}", trigger_ts=timezone.now() - timedelta(seconds=1),
                           trigger_value=234.1, line=line, equipment=equipment)


def socket_for(user, query: str) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/alarms/?{query}")
    socket.scope["user"] = user
    return socket


async def receive_events(socket, wanted_alarm_ids: set[int], *, timeout: float = 15.0) -> tuple[dict, list[dict]]:
    """Read messages until every wanted alarm has been seen; returns {alarm id: newest event} and the messages."""
    seen: dict[int, dict] = {}
    messages = []
    while not wanted_alarm_ids <= seen.keys():
        message = await socket.receive_json_from(timeout=timeout)
        messages.append(message)
        for event in message.get("events", []):
            seen[event["snapshot"]["id"]] = event
    return seen, messages
