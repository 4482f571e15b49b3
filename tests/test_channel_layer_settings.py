"""The Redis channel layer's socket timeout outlasts channels_redis' blocking receive: with redis-py's default (5 s,
the same as the receive's BZPOPMIN timeout) every consumer idle for 5 s died with "Timeout reading from Redis" and
its websocket was closed (found by the end-to-end latency benchmark)."""
import pytest
from django.conf import settings

pytestmark = pytest.mark.redis


def test_every_channel_layer_host_reads_longer_than_the_blocking_receive():
    from channels_redis.core import RedisChannelLayer

    hosts = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]
    for host in hosts:
        assert isinstance(host, dict), f"{host!r}: give the socket timeout explicitly (redis-py's default is 5 s)"
        timeout = host.get("socket_timeout")
        assert timeout is None or timeout > RedisChannelLayer.brpop_timeout + 5, host
