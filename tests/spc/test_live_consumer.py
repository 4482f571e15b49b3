"""The chart page's websocket: only signed-in users of the characteristic's site join its group; updates pushed by
live evaluation reach them, coalesced."""
import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from qms.routing import websocket_urlpatterns
from spc.services.live import chart_group
from tests.factories import CharacteristicFactory, SiteFactory, UserFactory

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def plant(db):
    site, other = SiteFactory(code="S1"), SiteFactory(code="S2")
    characteristic = CharacteristicFactory(site=site, code="IMM01.WS.TEMP")
    foreign = CharacteristicFactory(site=other, code="IMM02.WS.TEMP")
    member = UserFactory(username="ws-engineer", role="quality_engineer", sites=[site])
    return characteristic, foreign, member


def communicator(user, characteristic_id):
    socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/spc/characteristics/{characteristic_id}/")
    socket.scope["user"] = user
    return socket


async def test_anonymous_users_are_refused(plant):
    characteristic, _foreign, _member = plant
    connected, code = await communicator(AnonymousUser(), characteristic.pk).connect()
    assert not connected and code == 4403


async def test_another_sites_characteristic_is_refused_as_unknown(plant):
    _characteristic, foreign, member = plant
    connected, code = await communicator(member, foreign.pk).connect()
    assert not connected and code == 4404


async def test_a_user_without_the_chart_permission_is_refused(plant):
    characteristic, _foreign, _member = plant
    outsider = await sync_to_async(UserFactory)(username="no-role", sites=[characteristic.site])
    connected, code = await communicator(outsider, characteristic.pk).connect()
    assert not connected and code == 4403


async def test_a_member_receives_the_updates_of_the_chart_coalesced(plant):
    characteristic, _foreign, member = plant
    socket = communicator(member, characteristic.pk)
    connected, _code = await socket.connect()
    assert connected
    layer = get_channel_layer()
    for newest in ("2026-01-05T08:00:00+00:00", "2026-01-05T08:00:01+00:00", "2026-01-05T08:00:02+00:00"):
        await layer.group_send(chart_group(characteristic.pk),
                               {"type": "chart.update", "points": 2, "signals": 1, "newest": newest})
    first = await socket.receive_json_from(timeout=3)
    assert first["type"] == "chart.update" and first["points"] == 2
    rest = await socket.receive_json_from(timeout=3)  # the two that arrived during the pause, summed
    assert (rest["points"], rest["signals"], rest["newest"]) == (4, 2, "2026-01-05T08:00:02+00:00")
    assert await socket.receive_nothing(timeout=1.2)
    await socket.disconnect()
