"""The nudge path on its own: with the safety poll pushed out of reach, a raised alarm still reaches the page within
a second or two — alarm_changed (after commit) → group nudge → the consumer reads and sends. On the in-memory
channel layer and on channels_redis."""
import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.layers import channel_layers

from qms.live import consumers
from tests.live.support import raise_one, socket_for

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]
NUDGE_TIMEOUT_S = 2.0


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def layer(request, settings):
    if request.param == "memory":
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    else:
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                               "CONFIG": {"hosts": [settings.REDIS_URL]}}}
    channel_layers.backends.clear()
    yield request.param
    channel_layers.backends.clear()


async def test_a_raise_reaches_the_page_by_its_nudge_alone(plant, layer, monkeypatch):
    monkeypatch.setattr(consumers, "POLL_S", 3600.0)
    readers = []
    request_read = consumers.AlarmFeedConsumer.request_read

    def recording(self):
        request_read(self)
        readers.append(self.reader)

    monkeypatch.setattr(consumers.AlarmFeedConsumer, "request_read", recording)
    socket = socket_for(plant.supervisor, "site=S1")
    ok, code = await socket.connect()
    assert ok, code
    await asyncio.gather(*readers)  # the read at connect is over: only a nudge (or the poll) can read again
    readers.clear()

    raised = await database_sync_to_async(raise_one)(plant.site, 1)

    message = await socket.receive_json_from(timeout=NUDGE_TIMEOUT_S)
    assert message["type"] == "alarm.events"
    assert [event["snapshot"]["id"] for event in message["events"]] == [raised.alarm.pk]
    assert readers, "the message came from a read the nudge asked for"
    await socket.disconnect()
