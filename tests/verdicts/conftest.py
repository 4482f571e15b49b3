import pytest
import redis as redis_lib
from django.conf import settings

from tests.service_policy import require_service
from traceability.seams import verdicts_changed
from traceability.verdicts import access, store


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    """Every test starts and ends with an empty in-process token cache (grants are cached for 5 s per process)."""
    access.forget_cached_tokens()
    yield
    access.forget_cached_tokens()


@pytest.fixture
def captured():
    """The VerdictChanges sent on verdicts_changed during the test."""
    captured_changes = []

    def listen(sender, site_id, changes: list, **kwargs):
        captured_changes.extend(changes)
    verdicts_changed.connect(listen, dispatch_uid="tests-verdicts-captured")
    yield captured_changes
    verdicts_changed.disconnect(dispatch_uid="tests-verdicts-captured")


@pytest.fixture
def verdict_cache(db, settings):
    """A clean Redis verdict cache (this helper's Redis db), built, with background rebuilds off."""
    require_service(bool(settings.REDIS_URL), "Redis (REDIS_URL)")
    redis_lib.Redis.from_url(settings.REDIS_URL).flushdb()
    store._caches.clear()
    cache = store.verdict_cache()
    cache.auto_rebuild = False
    cache.rebuild(prewarm=False)
    yield cache
    store._caches.clear()


@pytest.fixture
def no_redis(settings):
    settings.REDIS_URL = ""
    settings.VERDICT_REDIS_URL = ""
    store._caches.clear()
    yield
    store._caches.clear()


def redis_client():
    return redis_lib.Redis.from_url(settings.REDIS_URL)


@pytest.fixture
def production_security(settings):
    """What qms/settings.py sets with DEBUG off (the tests run with DEBUG on)."""
    settings.SECURE_SSL_REDIRECT = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    settings.SECURE_CONTENT_TYPE_NOSNIFF = True
