"""GET /api/v1/measurements/: filters, cursor pagination, site scoping."""
import pytest

from tests.factories import UserFactory
from tests.ingest_helpers import URL, post_batch, reading, site_with_temperature, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(mes_client, characteristic, site):
    """Two characteristics, two lots, two machines, a bad-quality point; 8 points from 08:00:00 to 08:00:07."""
    site_with_temperature(site, code="IMM02.BARREL_Z2.TEMP", equipment_code="IMM02")
    items = [reading(ts=f"2026-01-05T08:00:0{i}Z", value=230 + i / 10, lot="L-1" if i < 4 else "L-2") for i in range(6)]
    items += [reading("IMM02.BARREL_Z2.TEMP", ts="2026-01-05T08:00:06Z", equipment="IMM02", quality="bad"),
              reading("IMM02.BARREL_Z2.TEMP", ts="2026-01-05T08:00:07Z", equipment="IMM02")]
    assert post_batch(mes_client, items).json()["stored"] == 8
    return items


def timestamps(response) -> list[str]:
    return [row["ts"] for row in response.json()["results"]]


def test_read_back_returns_the_stored_fields(mes_client, stored):
    row = mes_client.get(URL, {"characteristic": "IMM01.BARREL_Z2.TEMP", "ordering": "ts"}).json()["results"][0]
    assert row["characteristic"] == "IMM01.BARREL_Z2.TEMP"
    assert (row["ts"], row["value"], row["lot"], row["equipment"]) == ("2026-01-05T08:00:00Z", 230.0, "L-1", "IMM01")
    assert (row["quality"], row["source"]) == ("good", "token:MES-1")
    assert {"id", "batch", "received_at"} <= set(row)


def test_default_order_is_newest_first(mes_client, stored):
    assert timestamps(mes_client.get(URL))[0] == "2026-01-05T08:00:07Z"


def test_filter_by_characteristic(mes_client, stored):
    assert len(mes_client.get(URL, {"characteristic": "IMM02.BARREL_Z2.TEMP"}).json()["results"]) == 2


def test_filter_by_several_characteristics(mes_client, stored):
    response = mes_client.get(URL, {"characteristic": "IMM02.BARREL_Z2.TEMP,IMM01.BARREL_Z2.TEMP"})
    assert len(response.json()["results"]) == 8


def test_filter_by_lot(mes_client, stored):
    assert len(mes_client.get(URL, {"lot": "L-1"}).json()["results"]) == 4


def test_filter_by_equipment(mes_client, stored):
    assert timestamps(mes_client.get(URL, {"equipment": "IMM02"})) == ["2026-01-05T08:00:07Z", "2026-01-05T08:00:06Z"]


def test_filter_by_quality(mes_client, stored):
    assert timestamps(mes_client.get(URL, {"quality": "bad"})) == ["2026-01-05T08:00:06Z"]


def test_since_is_inclusive_and_until_exclusive(mes_client, stored):
    response = mes_client.get(URL, {"since": "2026-01-05T08:00:02Z", "until": "2026-01-05T16:00:04+08:00",
                                    "ordering": "ts"})
    assert timestamps(response) == ["2026-01-05T08:00:02Z", "2026-01-05T08:00:03Z"]


@pytest.mark.parametrize("value", ["yesterday", "2026-01-05T08:00:00"])
def test_since_must_be_iso8601_with_an_offset(mes_client, stored, value):
    response = mes_client.get(URL, {"since": value})
    assert response.status_code == 400
    assert "since" in response.json()["error"]["details"]


def test_unknown_quality_filter_is_a_400(mes_client, stored):
    assert mes_client.get(URL, {"quality": "perfect"}).status_code == 400


def test_cursor_pagination_walks_every_point_once_in_order(mes_client, stored):
    seen, url, params = [], URL, {"page_size": 3, "ordering": "ts"}
    while url:
        page = mes_client.get(url, params).json()
        seen += [row["ts"] for row in page["results"]]
        url, params = page["next"], None
    assert seen == sorted(item["ts"] for item in stored)


def test_cursor_pagination_is_stable_while_new_points_arrive(mes_client, stored):
    first = mes_client.get(URL, {"page_size": 4}).json()
    post_batch(mes_client, [reading(ts="2026-01-05T09:00:00Z")])
    second = mes_client.get(first["next"]).json()
    assert timestamps_of(first) + timestamps_of(second) == sorted((i["ts"] for i in stored), reverse=True)


def timestamps_of(page: dict) -> list[str]:
    return [row["ts"] for row in page["results"]]


def test_ties_on_ts_are_paginated_without_loss(mes_client, characteristic, site):
    codes = [f"IMM01.ZONE{n}.TEMP" for n in range(5)]
    for number, code in enumerate(codes):
        site_with_temperature(site, code=code, equipment_code=f"M{number}")
    post_batch(mes_client, [reading(code, ts="2026-01-05T08:00:00Z") for code in codes])
    seen, url, params = [], URL, {"page_size": 2}
    while url:
        page = mes_client.get(url, params).json()
        seen += [row["id"] for row in page["results"]]
        url, params = page["next"], None
    assert len(seen) == len(set(seen)) == 5


def test_invalid_ordering_is_a_400(mes_client, stored):
    assert mes_client.get(URL, {"ordering": "value"}).status_code == 400


def test_token_reads_only_its_own_site(stored, other_site):
    site_with_temperature(other_site, code="IMM01.BARREL_Z2.TEMP")
    intruder = token_client(other_site, name="MES-S2")
    assert intruder.get(URL).json()["results"] == []
    assert intruder.get(URL, {"site": "S1"}).json()["results"] == []


def test_user_reads_only_sites_they_belong_to(api_client, stored, other_site):
    api_client.force_authenticate(UserFactory(username="s2-engineer", role="quality_engineer", sites=[other_site]))
    assert api_client.get(URL).json()["results"] == []


def test_user_of_the_site_reads_its_points(engineer_client, stored):
    assert len(engineer_client.get(URL).json()["results"]) == 8


def test_token_without_ingest_scope_cannot_read(site, stored):
    assert token_client(site, name="verdicts", scopes=("verdicts:read",)).get(URL).status_code == 403
