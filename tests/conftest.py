"""Shared fixtures and the service policy: a test that needs a service the machine lacks is skipped with the
reason printed — except under CI=true, where a missing service is a failure, never a skip."""
import os
import socket

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from tests.factories import CharacteristicFactory, EquipmentFactory, SiteFactory, UserFactory, make_token
from tests.service_policy import require_service


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres"):
        require_service(settings.USES_POSTGRES, "PostgreSQL (set DATABASE_URL=postgres://...)")
    if item.get_closest_marker("redis"):
        require_service(bool(settings.REDIS_URL) and _port_open("127.0.0.1", 6379), "Redis (set REDIS_URL=redis://...)")
    if item.get_closest_marker("browser"):
        require_service(os.path.exists("/usr/bin/chromium"), "Debian's chromium at /usr/bin/chromium")


@pytest.fixture
def site(db):
    return SiteFactory(code="S1", name="Demo plant")


@pytest.fixture
def other_site(db):
    return SiteFactory(code="S2", name="Other plant")


@pytest.fixture
def equipment(site):
    return EquipmentFactory(code="IMM01", work_center__line__area__site=site, site=site)


@pytest.fixture
def characteristic(site, equipment):
    return CharacteristicFactory(site=site, code="IMM01.BARREL_Z2.TEMP", equipment=equipment)


@pytest.fixture
def engineer(site):
    return UserFactory(username="engineer", role="quality_engineer", sites=[site])


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def engineer_client(engineer):
    client = APIClient()
    client.force_authenticate(engineer)
    return client


@pytest.fixture
def mes_token(site):
    return make_token(site, scopes=("ingest", "verdicts:read"), name="MES-1")


@pytest.fixture
def mes_client(mes_token):
    _token, raw = mes_token
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client
