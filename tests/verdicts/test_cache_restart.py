"""A Redis that comes back from its persistence file without its last writes (appendfsync everysec after a host crash,
an RDB snapshot, a promoted replica) still holds the sentinel with the epoch the database trusts; a hold's dirty mark
and write-through lost with those writes would leave the pre-hold answer cached under it, served (lane and fast path
alike) until the lot changes again or its value expires. The sentinel therefore counts only on the Redis server
process it was set on (cache.SERVER_KEY)."""
import pytest

from tests.factories import LotFactory, SiteFactory
from tests.factories_verdicts import hold_lots
from tests.verdicts.conftest import redis_client
from traceability.verdicts.cache import PREFIX, SERVER_KEY
from traceability.verdicts.store import verdict_for_lots

pytestmark = pytest.mark.redis


def redis_state() -> dict[bytes, bytes]:
    client = redis_client()
    return {key: client.dump(key) for key in client.scan_iter(f"{PREFIX}:*")}


def come_back_as(state: dict[bytes, bytes]) -> None:
    """Redis restarted, as another server process, from a file written when `state` was its content."""
    client = redis_client()
    for key in client.scan_iter(f"{PREFIX}:*"):
        if key not in state:
            client.delete(key)
    for key, dumped in state.items():
        client.restore(key, 0, dumped, replace=True)
    # the file names the process that wrote it; this test's Redis cannot restart, so the file names another one
    client.set(SERVER_KEY, "run id of the process before the restart")


def test_a_hold_lost_with_redis_last_writes_is_still_seen(verdict_cache, django_capture_on_commit_callbacks):
    site = SiteFactory(code="S1")
    lot = LotFactory(site=site, code="L-0001")
    assert verdict_for_lots(site.pk, ["L-0001"])["L-0001"].verdict == "release"  # cached
    persisted = redis_state()                      # the last state the persistence file holds
    with django_capture_on_commit_callbacks(execute=True):
        hold_lots(site, [lot])                     # committed; its Redis writes acknowledged, not yet persisted
    come_back_as(persisted)                        # the host crashes; Redis restarts from its file
    verdict_cache.client.connection_pool.disconnect()  # every process reconnects (and re-checks the epoch)
    assert verdict_for_lots(site.pk, ["L-0001"])["L-0001"].verdict == "hold"


def test_a_rebuild_trusts_the_server_it_ran_on(verdict_cache):
    verdict_cache.client.connection_pool.disconnect()
    verdict_cache.validate()
    assert verdict_cache.epoch is not None
