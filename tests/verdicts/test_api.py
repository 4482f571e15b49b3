"""The verdict API: shapes, errors (one error body), auth (token scope, user permission), site scoping."""
import orjson
import pytest
from django.test import Client
from django.utils import timezone

from qms.auth.tokens import revoke_token
from tests.factories import LotFactory, SiteFactory, UserFactory, make_token
from tests.factories_verdicts import hold_lots
from traceability.verdicts import access
from traceability.verdicts.views import MAX_BATCH

pytestmark = pytest.mark.usefixtures("no_redis")
ONE = "/api/v1/verdicts/lots/{}/"
QUERY = "/api/v1/verdicts/query/"


@pytest.fixture
def site(db):
    return SiteFactory(code="S1")


@pytest.fixture
def mes(site):
    _token, raw = make_token(site, scopes=("verdicts:read",), name="MES-1")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


@pytest.fixture
def held(site):
    lot = LotFactory(site=site, code="L-0001")
    hold = hold_lots(site, [lot], reason="IMM02 barrel zone 2 +4 °C")
    LotFactory(site=site, code="L-0002")
    return hold


def post(client, body):
    return client.post(QUERY, body if isinstance(body, bytes) else orjson.dumps(body), content_type="application/json")


def error(response):
    return response.json()["error"]


def test_single_verdict_shape(mes, held):
    response = mes.get(ONE.format("L-0001"))
    body = response.json()
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert set(body) == {"lot", "verdict", "reasons", "checked_at"}
    assert (body["lot"], body["verdict"]) == ("L-0001", "hold")
    assert body["reasons"][0]["hold"] == held.pk and body["reasons"][0]["reason"] == "IMM02 barrel zone 2 +4 °C"
    assert body["reasons"][0]["since"] == held.placed_at.isoformat() and body["checked_at"].endswith("Z")


def test_unheld_lot_is_release(mes, held):
    assert mes.get(ONE.format("L-0002")).json()["verdict"] == "release"


def test_unknown_lot_is_a_404_naming_it(mes, site):
    response = mes.get(ONE.format("L-NOPE"))
    assert response.status_code == 404
    assert error(response)["code"] == "unknown_lot" and "L-NOPE" in error(response)["message"]


def test_another_sites_lot_is_unknown(mes, site):
    LotFactory(site=SiteFactory(code="S2"), code="L-S2")
    assert mes.get(ONE.format("L-S2")).status_code == 404


def test_batch_answers_per_lot_in_order(mes, held):
    response = post(mes, {"lots": ["L-0002", "L-NOPE", "L-0001"]})
    results = response.json()["results"]
    assert response.status_code == 200 and "checked_at" in response.json()
    assert [(r["lot"], r["verdict"]) for r in results] == [("L-0002", "release"), ("L-NOPE", None), ("L-0001", "hold")]
    assert results[1]["error"]["code"] == "unknown_lot"


def test_batch_over_the_limit_is_413_naming_it(mes, site):
    response = post(mes, {"lots": [f"L-{i}" for i in range(MAX_BATCH + 1)]})
    assert response.status_code == 413 and error(response)["details"]["limit"] == MAX_BATCH
    assert str(MAX_BATCH) in error(response)["message"]


@pytest.mark.parametrize(("lots", "index"), [(["L-1", 7], "1"), (["L-1", "L-2", None], "2"), ([""], "0"),
                                             (["L-1", ["L-2"]], "1"), (["x" * 65], "0")])
def test_bad_items_are_named_by_index(mes, site, lots, index):
    response = post(mes, {"lots": lots})
    assert response.status_code == 400 and index in error(response)["details"]["lots"]


@pytest.mark.parametrize("body", [b'{"lots": [NaN]}', b"not json", b'["L-1"]', b'{"lots": "L-1"}', b'{"lots": []}',
                                  b"{}"])
def test_malformed_bodies_are_400(mes, site, body):
    response = post(mes, body)
    assert response.status_code == 400 and error(response)["message"]


def test_anonymous_gets_401_with_a_challenge(site):
    response = Client().get(ONE.format("L-0001"))
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")


def test_token_without_the_scope_is_403(site):
    _token, raw = make_token(site, scopes=("ingest",), name="ingest-only")
    response = Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get(ONE.format("L-0001"))
    assert response.status_code == 403 and error(response)["code"] == "missing_scope"


def test_unknown_token_is_401(site):
    response = Client(HTTP_AUTHORIZATION="Bearer qp_nope").get(ONE.format("L-0001"))
    assert response.status_code == 401 and error(response)["code"] == "unknown_token"


def test_revoked_token_stops_working_once_the_cache_entry_lapses(site, held, monkeypatch):
    token, raw = make_token(site, scopes=("verdicts:read",), name="MES-R")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get(ONE.format("L-0001")).status_code == 200
    revoke_token(token.pk, user=None, reason="MES replaced")
    monkeypatch.setattr(access, "TOKEN_CACHE_TTL_S", 0.0)
    access.forget_cached_tokens()  # = TOKEN_CACHE_TTL_S seconds later
    response = client.get(ONE.format("L-0001"))
    assert response.status_code == 401 and error(response)["code"] == "token_revoked"


def test_expired_token_is_401(site):
    token, raw = make_token(site, scopes=("verdicts:read",), name="MES-X")
    type(token).objects.filter(pk=token.pk).update(expires_at=timezone.now() - timezone.timedelta(seconds=1))
    response = Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get(ONE.format("L-0001"))
    assert error(response)["code"] == "token_expired"


def test_token_naming_another_site_is_403(mes, site):
    SiteFactory(code="S2")
    assert mes.get(ONE.format("L-0001") + "?site=S2").status_code == 403


def test_signed_in_operator_reads_verdicts(site, held):
    client = Client()
    client.force_login(UserFactory(username="op", role="operator", sites=[site]))
    assert client.get(ONE.format("L-0001")).json()["verdict"] == "hold"


def test_user_of_several_sites_names_one(site, held):
    other = SiteFactory(code="S2")
    LotFactory(site=other, code="L-0001")
    client = Client()
    client.force_login(UserFactory(username="eng", role="quality_engineer", sites=[site, other]))
    assert client.get(ONE.format("L-0001") + "?site=S2").json()["verdict"] == "release"
    assert client.get(ONE.format("L-0001") + "?site=S1").json()["verdict"] == "hold"


def test_user_cannot_read_a_site_they_do_not_belong_to(site, held):
    SiteFactory(code="S2")
    client = Client()
    client.force_login(UserFactory(username="op", role="operator", sites=[site]))
    assert client.get(ONE.format("L-0001") + "?site=S2").status_code == 403


def test_user_without_a_role_is_403(site, held):
    client = Client()
    client.force_login(UserFactory(username="nobody", sites=[site]))
    assert error(client.get(ONE.format("L-0001")))["code"] == "role_forbidden"


def test_signed_in_batch_needs_the_csrf_token(site, held):
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(username="op", role="operator", sites=[site]))
    assert post(client, {"lots": ["L-0001"]}).status_code == 403


def test_wrong_methods_are_405(mes, site):
    assert mes.post(ONE.format("L-0001")).status_code == 405
    assert mes.get(QUERY).status_code == 405
