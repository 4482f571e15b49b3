"""A user sees only the sites they belong to; a machine token only its own site.

Generic over every endpoint under /api/v1/ (including those added later): site S1 is filled with records whose
codes and names all contain SECRET; a user of S2 holding every role, and an S2 token holding every scope, read every
list endpoint (plain and with the usual filters) and every detail endpoint with every S1 identifier — no response
may contain SECRET. A user of S1 doing the same sees SECRET on the core endpoints, which proves the probe can fail.
"""
import datetime as dt
import itertools
import re

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.test import APIClient

from qms.audit.chain import record_audit
from qms.auth.roles import ROLES
from qms.models import (
    Characteristic,
    CycleTimeRecord,
    DeadLetter,
    EquipmentStateEvent,
    Measurement,
)
from tests.api_walk import iter_endpoints
from tests.factories import (
    AreaFactory,
    CharacteristicFactory,
    EquipmentFactory,
    LineFactory,
    LotFactory,
    LotRunFactory,
    OperationFactory,
    ProductFactory,
    SiteFactory,
    UserFactory,
    WorkCenterFactory,
    make_token,
)

MARK = "SECRET"
SECRET_CODE = "SECRET.ZONE.TEMP"
ENDPOINTS = list(iter_endpoints("api/v1/"))
LIST_ENDPOINTS = [e for e in ENDPOINTS if not e.params]
DETAIL_ENDPOINTS = [e for e in ENDPOINTS if e.params]
FILTERS = [
    {}, {"site": "S1"}, {"characteristic": SECRET_CODE}, {"code": SECRET_CODE}, {"lot": "SECRET-LOT"},
    {"equipment": "SECRETEQ"}, {"since": "2000-01-01T00:00:00Z"}, {"page_size": 1000},
]
# The core endpoints a user of S1 must see SECRET on (those that exist; the probe proves it can find a leak there).
CORE = ("api/v1/characteristics/", "api/v1/measurements/", "api/v1/lots/", "api/v1/dead-letters/", "api/v1/audit/",
        "api/v1/connectors/")


@pytest.fixture
def secret_site(db):
    """Site S1 with one record of every kind, each carrying SECRET in a code or name."""
    s1 = SiteFactory(code="S1", name="SECRET plant")
    area = AreaFactory(site=s1, code="SECRETAREA")
    work_center = WorkCenterFactory(line=LineFactory(area=area, code="SECRETLINE"), code="SECRETWC")
    equipment = EquipmentFactory(site=s1, work_center=work_center, code="SECRETEQ", name="SECRET press")
    product = ProductFactory(site=s1, part_number="SECRET-PN", name="SECRET part")
    OperationFactory(product=product, code="SECRETOP", name="SECRET op")
    characteristic = CharacteristicFactory(site=s1, code=SECRET_CODE, name_en="SECRET temperature",
                                           name_zh="SECRET 温度", equipment=equipment)
    now = timezone.now()
    Measurement.objects.create(characteristic=characteristic, ts=now - dt.timedelta(minutes=1), value=230.0,
                               lot_code="SECRET-LOT", equipment=equipment, source="SECRET-MES", received_at=now)
    lot = LotFactory(site=s1, code="SECRET-LOT")
    material = LotFactory(site=s1, code="SECRET-MAT", kind="material")
    from traceability.models import GenealogyEdge

    GenealogyEdge.objects.create(parent=material, child=lot, quantity=1.0, unit="kg")
    LotRunFactory(lot=lot, equipment=equipment, started_at=now - dt.timedelta(hours=1))
    DeadLetter.objects.create(site=s1, index=0, payload={"characteristic": "SECRET.X.Y"}, code="unknown",
                              message="SECRET unknown characteristic", source="token:SECRET-MES")
    EquipmentStateEvent.objects.create(equipment=equipment, ts=now, state=EquipmentStateEvent.State.choices[0][0],
                                       reason="SECRET stop", source="SECRET-MES")
    CycleTimeRecord.objects.create(equipment=equipment, ts=now, cycle_time_s=31.5, lot_code="SECRET-LOT",
                                   source="SECRET-MES")
    make_token(s1, name="SECRET-MES")
    from connectors.models import Connector, TagMapping

    connector = Connector.objects.create(site=s1, name="SECRET-OPC", kind=Connector.Kind.OPCUA, config={},
                                         description="SECRET line 1")
    TagMapping.objects.create(connector=connector, characteristic=characteristic, source_ref="ns=2;s=SECRET.Z2")
    record_audit(action="update", model="qms.Characteristic", object_pk=characteristic.pk,
                 object_repr=SECRET_CODE, site_id=s1.pk, changes={"usl": [1, 2]}, reason="SECRET reason")
    return s1


def _identifiers(site) -> tuple[list[str], list[str]]:
    """(numeric ids, codes) of every S1 record, to try on every detail endpoint."""
    from traceability.models import Lot, LotRun

    ids = set()
    for queryset in (Characteristic.objects.filter(site=site), Lot.objects.filter(site=site),
                     LotRun.objects.filter(lot__site=site), DeadLetter.objects.filter(site=site),
                     Measurement.objects.filter(characteristic__site=site), site.api_tokens.all(),
                     site.equipment.all(), site.areas.all(), site.products.all(), site.connectors.all()):
        ids |= {str(pk) for pk in queryset.values_list("pk", flat=True)}
    ids.add(str(site.pk))
    codes = [SECRET_CODE, "SECRET-LOT", "SECRET-MAT", "SECRETEQ", "SECRET-PN", "S1"]
    return sorted(ids), codes


def _body(response) -> str:
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    return raw.decode("utf-8", "replace")


def _fill(endpoint, values) -> str:
    path = "/" + endpoint.route
    for name, value in zip(endpoint.params, values, strict=True):
        path = path.replace(f"<{name}>", value)
    return path


def _absent_like(value: str) -> str:
    """An identifier of the same shape (so the same URL pattern matches) that names nothing."""
    return "9" * (len(value) + 6) if value.isdigit() else re.sub(r"[A-Za-z]", "Q", value)


def _everything_a_reader_sees(client, site, own_site=None, details=True) -> tuple[dict[str, str], list[str]]:
    """(route → what the reader was shown, existence oracles).

    Lists: every body of every filter variant. Details: the bodies of successful answers only (an error may echo
    the identifier asked for); an S1 identifier that is refused must be refused with the same status as an identifier
    that does not exist, or the status itself tells that the record exists.
    """
    seen: dict[str, str] = {}
    oracles: list[str] = []
    for endpoint in LIST_ENDPOINTS:
        seen[endpoint.route] = "".join(_body(client.get(endpoint.sample(), query)) for query in FILTERS)
    ids, codes = _identifiers(site)
    # An S1 id that is also the id of one of the reader's own records (another table) may rightly answer 200.
    own_ids = set(_identifiers(own_site)[0]) if own_site is not None else set()
    for endpoint in DETAIL_ENDPOINTS if details else ():
        bodies, missing_status = [], {}
        for values in itertools.product(ids + codes, repeat=len(endpoint.params)):
            response = client.get(_fill(endpoint, values))
            if response.status_code < 300:
                # The id may rightly name another record the reader sees (a global audit entry, their own site's
                # row of another table): what matters is that it shows nothing of S1.
                bodies.append(_body(response))
                continue
            if own_ids & set(values):
                continue
            missing = tuple(_absent_like(value) for value in values)
            if missing not in missing_status:
                missing_status[missing] = client.get(_fill(endpoint, missing)).status_code
            if missing_status[missing] != response.status_code:
                oracles.append(f"{_fill(endpoint, values)} answers {response.status_code}")
        seen[endpoint.route] = "".join(bodies)
    return seen, oracles


def _user_of(site, username: str) -> APIClient:
    user = UserFactory(username=username, sites=[site])
    user.groups.add(*Group.objects.filter(name__in=ROLES))
    client = APIClient()
    client.force_login(user)
    return client


def _token_of(site) -> APIClient:
    _token, raw = make_token(site, scopes=("ingest", "verdicts:read", "dictionary:write"), name="ALL-SCOPES")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.mark.slow
def test_user_of_another_site_sees_nothing_of_s1(secret_site):
    s2 = SiteFactory(code="S2", name="Other plant")
    seen, oracles = _everything_a_reader_sees(_user_of(s2, "s2.everyone"), secret_site, own_site=s2)
    assert [route for route, body in seen.items() if MARK in body] == []
    assert oracles == [], "\n".join(oracles)


@pytest.mark.slow
def test_token_of_another_site_sees_nothing_of_s1(secret_site):
    s2 = SiteFactory(code="S2", name="Other plant")
    seen, oracles = _everything_a_reader_sees(_token_of(s2), secret_site, own_site=s2)
    assert [route for route, body in seen.items() if MARK in body] == []
    assert oracles == [], "\n".join(oracles)


@pytest.mark.slow
def test_user_of_s1_sees_s1_on_the_core_endpoints(secret_site):
    """The positive control: the same probe finds SECRET where S1's own users look."""
    insider = _user_of(secret_site, "s1.everyone")
    seen, _oracles = _everything_a_reader_sees(insider, secret_site, own_site=secret_site, details=False)
    existing_core = [route for route in CORE if route in seen]
    assert len(existing_core) >= 3, f"core endpoints missing: {set(CORE) - set(existing_core)}"
    assert [route for route in existing_core if MARK not in seen[route]] == []


def test_outsider_cannot_write_into_s1(secret_site):
    outsider = _user_of(SiteFactory(code="S2", name="Other plant"), "s2.writer")
    before = Measurement.objects.filter(characteristic__code=SECRET_CODE).count()
    response = outsider.post("/api/v1/measurements/", {"measurements": [
        {"characteristic": SECRET_CODE, "value": 231.0, "ts": timezone.now().isoformat()}]}, format="json")
    assert response.status_code in (200, 207, 400, 403, 404, 422)
    assert Measurement.objects.filter(characteristic__code=SECRET_CODE).count() == before
    response = outsider.post("/api/v1/characteristics/", {"site": "S1", "code": "SECRET.NEW.TEMP", "name_en": "x",
                                                          "unit": "°C"}, format="json")
    assert response.status_code in (400, 403)
    assert not Characteristic.objects.filter(code="SECRET.NEW.TEMP").exists()
    response = outsider.post("/api/v1/tokens/", {"site": "S1", "name": "SECRET-NEW", "scopes": []}, format="json")
    assert response.status_code == 403


def test_token_of_another_site_cannot_write_into_s1(secret_site):
    outsider = _token_of(SiteFactory(code="S2", name="Other plant"))
    before = Measurement.objects.filter(characteristic__code=SECRET_CODE).count()
    outsider.post("/api/v1/measurements/", {"measurements": [
        {"characteristic": SECRET_CODE, "value": 231.0, "ts": timezone.now().isoformat()}]}, format="json")
    assert Measurement.objects.filter(characteristic__code=SECRET_CODE).count() == before
    response = outsider.post("/api/v1/lots/", {"code": "SECRET-NEW-LOT", "equipment": "SECRETEQ",
                                               "started_at": timezone.now().isoformat()}, format="json")
    assert response.status_code in (400, 403, 404)
    from traceability.models import Lot

    assert not Lot.objects.filter(code="SECRET-NEW-LOT").exists()


def test_user_without_sites_sees_nothing(secret_site):
    client = APIClient()
    client.force_login(UserFactory(username="nowhere", role="auditor"))
    for route in ("api/v1/characteristics/", "api/v1/audit/", "api/v1/lots/"):
        if route in {e.route for e in LIST_ENDPOINTS}:
            assert MARK not in client.get("/" + route).content.decode()
