"""POST/GET /api/v1/lots/: the contract an MES integration relies on."""
import pytest

from tests.factories import EquipmentFactory, LotFactory, ProductFactory
from traceability.models import GenealogyEdge, Lot, LotRun

LOTS = "/api/v1/lots/"


def ts(hour: int, minute: int = 0, day: int = 20) -> str:
    return f"2026-11-{day:02d}T{hour:02d}:{minute:02d}:00Z"


@pytest.fixture
def resin(site):
    return LotFactory(site=site, code="M-RESIN-1", kind="material", unit="kg")


@pytest.fixture
def colorant(site):
    return LotFactory(site=site, code="M-COLOR-1", kind="material", unit="kg")


def lot_body(**overrides):
    body = {"code": "L-0001", "equipment": "IMM01", "started_at": ts(8)}
    body.update(overrides)
    return body


def post(client, body):
    return client.post(LOTS, body, format="json")


# --- creating ----------------------------------------------------------------------------------------------------


def test_post_creates_lot_with_its_run_and_parent_edges(mes_client, equipment, resin, colorant):
    response = post(mes_client, lot_body(
        quantity=5000, parents=[{"lot": "M-RESIN-1", "quantity": 25.5}, {"lot": "M-COLOR-1", "quantity": 0.5, "unit": "g"}],
    ))

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["code"] == "L-0001" and body["kind"] == "production" and body["site"] == "S1"
    assert [(r["equipment"], r["started_at"], r["ended_at"]) for r in body["runs"]] == [("IMM01", ts(8), None)]
    assert body["parents"] == [
        {"lot": "M-COLOR-1", "quantity": 0.5, "unit": "g"},
        {"lot": "M-RESIN-1", "quantity": 25.5, "unit": "kg"},  # unit defaults to the parent lot's unit
    ]
    assert response["Location"] == "/api/v1/lots/L-0001/"


def test_post_with_ended_at_records_a_closed_run(mes_client, equipment):
    response = post(mes_client, lot_body(ended_at=ts(12)))

    assert response.status_code == 201
    assert response.json()["runs"][0]["ended_at"] == ts(12)


def test_material_lot_may_be_registered_without_a_run(mes_client, site):
    response = post(mes_client, {"code": "M-9", "kind": "material", "quantity": 500, "unit": "kg", "supplier": "ACME"})

    assert response.status_code == 201, response.json()
    assert response.json()["runs"] == [] and response.json()["supplier"] == "ACME"


def test_production_lot_needs_equipment_and_start(mes_client, site):
    response = post(mes_client, {"code": "L-NORUN"})

    assert response.status_code == 400
    assert "equipment" in response.json()["error"]["details"]
    assert not Lot.objects.filter(code="L-NORUN").exists()


def test_equipment_without_start_is_refused(mes_client, equipment):
    response = post(mes_client, {"code": "L-1", "equipment": "IMM01"})

    assert response.status_code == 400
    assert "started_at" in response.json()["error"]["details"]


@pytest.mark.parametrize("reference", ["PN-7@B", {"part_number": "PN-7", "revision": "B"}])
def test_product_named_with_revision(mes_client, site, equipment, reference):
    ProductFactory(site=site, part_number="PN-7", revision="A")
    ProductFactory(site=site, part_number="PN-7", revision="B")

    response = post(mes_client, lot_body(product=reference))

    assert response.status_code == 201, response.json()
    assert response.json()["product"] == {"part_number": "PN-7", "revision": "B"}


def test_bare_part_number_resolves_when_only_one_revision_exists(mes_client, site, equipment):
    ProductFactory(site=site, part_number="PN-8", revision="C")

    response = post(mes_client, lot_body(product="PN-8"))

    assert response.json()["product"] == {"part_number": "PN-8", "revision": "C"}


def test_bare_part_number_with_several_revisions_is_ambiguous(mes_client, site, equipment):
    ProductFactory(site=site, part_number="PN-7", revision="A")
    ProductFactory(site=site, part_number="PN-7", revision="B")

    response = post(mes_client, lot_body(product="PN-7"))

    assert response.status_code == 400
    assert "A, B" in response.json()["error"]["details"]["product"][0]


def test_unknown_product_is_refused(mes_client, equipment):
    response = post(mes_client, lot_body(product="NOPE@A"))

    assert response.status_code == 400
    assert "NOPE@A" in response.json()["error"]["details"]["product"][0]


def test_unknown_equipment_is_refused(mes_client, site):
    response = post(mes_client, lot_body(equipment="IMM99"))

    assert response.status_code == 400
    assert "IMM99" in response.json()["error"]["message"]


# --- bad input ---------------------------------------------------------------------------------------------------


def test_unknown_parents_are_refused_and_named(mes_client, equipment, resin):
    response = post(mes_client, lot_body(parents=[{"lot": "M-RESIN-1"}, {"lot": "M-404"}, {"lot": "M-405"}]))

    assert response.status_code == 400
    message = response.json()["error"]["details"]["parents"][0]
    assert "M-404" in message and "M-405" in message and "M-RESIN-1" not in message
    assert not Lot.objects.filter(code="L-0001").exists()


def test_end_before_start_is_refused(mes_client, equipment):
    response = post(mes_client, lot_body(started_at=ts(10), ended_at=ts(9)))

    assert response.status_code == 400
    assert "ended_at" in response.json()["error"]["details"]


@pytest.mark.parametrize("field", ["started_at", "ended_at"])
def test_naive_timestamp_is_refused(mes_client, equipment, field):
    body = lot_body(ended_at=ts(12))
    body[field] = body[field].rstrip("Z")

    response = post(mes_client, body)

    assert response.status_code == 400
    assert response.json()["error"]["details"][field][0].find("time zone") >= 0
    assert not Lot.objects.exists()


def test_timestamp_far_in_the_future_is_refused(mes_client, equipment):
    response = post(mes_client, lot_body(started_at="2999-01-01T00:00:00Z"))

    assert response.status_code == 400
    assert "started_at" in response.json()["error"]["details"]


def test_offset_timestamps_are_kept_as_the_same_instant(mes_client, equipment):
    response = post(mes_client, lot_body(started_at="2026-11-20T16:00:00+08:00"))

    assert response.json()["runs"][0]["started_at"] == ts(8)


def test_unknown_field_is_refused_not_ignored(mes_client, equipment):
    response = post(mes_client, lot_body(endedAt=ts(12)))

    assert response.status_code == 400
    assert "endedAt" in response.json()["error"]["details"]


@pytest.mark.parametrize("code", ["L/1", "L 1", "", "x" * 65])
def test_unusable_lot_codes_are_refused(mes_client, equipment, code):
    assert post(mes_client, lot_body(code=code)).status_code == 400


@pytest.mark.parametrize("quantity", ["12", -1, True])
def test_bad_quantity_is_refused(mes_client, equipment, quantity):
    response = post(mes_client, lot_body(quantity=quantity))

    assert response.status_code == 400
    assert "quantity" in response.json()["error"]["details"]


def test_body_that_is_not_an_object_is_refused(mes_client, equipment):
    response = mes_client.post(LOTS, [lot_body()], format="json")

    assert response.status_code == 400


# --- idempotency and conflicts -----------------------------------------------------------------------------------


def test_reposting_the_same_lot_changes_nothing(mes_client, equipment, resin):
    body = lot_body(quantity=100, parents=[{"lot": "M-RESIN-1", "quantity": 2.0}])
    first = post(mes_client, body)
    history_rows = Lot.history.count() + LotRun.history.count() + GenealogyEdge.history.count()

    again = post(mes_client, body)

    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == first.json()
    assert Lot.objects.count() == 2 and LotRun.objects.count() == 1 and GenealogyEdge.objects.count() == 1
    assert Lot.history.count() + LotRun.history.count() + GenealogyEdge.history.count() == history_rows


def test_repost_with_ended_at_closes_the_open_run(mes_client, equipment):
    post(mes_client, lot_body())

    response = post(mes_client, lot_body(ended_at=ts(12)))

    assert response.status_code == 200
    assert response.json()["runs"][0]["ended_at"] == ts(12)
    assert LotRun.objects.count() == 1


def test_repost_may_add_parents_not_yet_recorded(mes_client, equipment, resin, colorant):
    post(mes_client, lot_body(parents=[{"lot": "M-RESIN-1", "quantity": 2.0}]))

    response = post(mes_client, lot_body(parents=[{"lot": "M-COLOR-1", "quantity": 0.1}]))

    assert response.status_code == 200
    assert {p["lot"] for p in response.json()["parents"]} == {"M-RESIN-1", "M-COLOR-1"}


def test_repost_with_another_kind_is_a_conflict_naming_it(mes_client, equipment):
    post(mes_client, lot_body())

    response = post(mes_client, lot_body(kind="material"))

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "conflict"
    assert error["details"] == {"kind": {"stored": "production", "sent": "material"}}


def test_conflict_names_every_difference_and_changes_nothing(mes_client, equipment):
    post(mes_client, lot_body(quantity=100, ended_at=ts(12)))

    response = post(mes_client, lot_body(quantity=200, ended_at=ts(13), supplier="X"))

    assert response.status_code == 409
    assert set(response.json()["error"]["details"]) == {"quantity", "ended_at"}
    lot = Lot.objects.get(code="L-0001")
    assert lot.quantity == 100 and lot.supplier == ""


def test_repost_with_another_run_is_a_conflict_pointing_to_the_runs_endpoint(mes_client, equipment):
    EquipmentFactory(code="IMM02", work_center=equipment.work_center, site=equipment.site)
    post(mes_client, lot_body())

    response = post(mes_client, lot_body(equipment="IMM02", started_at=ts(9)))

    assert response.status_code == 409
    assert "/runs/" in response.json()["error"]["details"]["run"]["hint"]


def test_repost_with_another_parent_quantity_is_a_conflict(mes_client, equipment, resin):
    post(mes_client, lot_body(parents=[{"lot": "M-RESIN-1", "quantity": 2.0}]))

    response = post(mes_client, lot_body(parents=[{"lot": "M-RESIN-1", "quantity": 3.0}]))

    assert response.status_code == 409
    assert response.json()["error"]["details"]["parents"]["M-RESIN-1"]["quantity"] == {"stored": 2.0, "sent": 3.0}


def test_parent_that_would_close_a_cycle_is_refused_naming_it(mes_client, equipment, site):
    post(mes_client, lot_body(code="L-A"))
    post(mes_client, lot_body(code="L-B", started_at=ts(9), close_previous=True, parents=[{"lot": "L-A"}]))
    post(mes_client, lot_body(code="L-C", started_at=ts(10), close_previous=True, parents=[{"lot": "L-B"}]))

    response = post(mes_client, lot_body(code="L-A", parents=[{"lot": "L-C"}]))

    assert response.status_code == 400
    assert "L-C → L-A → L-B → L-C" in response.json()["error"]["details"]["cycle"][0]
    assert not GenealogyEdge.objects.filter(parent__code="L-C").exists()


def test_lot_listed_as_its_own_parent_is_refused(mes_client, equipment):
    post(mes_client, lot_body())

    response = post(mes_client, lot_body(parents=[{"lot": "L-0001"}]))

    assert response.status_code == 400
    assert "cycle" in response.json()["error"]["details"]


def test_new_lot_whose_run_overlaps_is_not_created(mes_client, equipment):
    post(mes_client, lot_body(code="L-A"))

    response = post(mes_client, lot_body(code="L-B", started_at=ts(9)))

    assert response.status_code == 409
    assert response.json()["error"]["details"]["overlapping_runs"][0]["lot"] == "L-A"
    assert not Lot.objects.filter(code="L-B").exists()


# --- reading -----------------------------------------------------------------------------------------------------


def test_get_by_code_shows_runs_parents_and_children(mes_client, equipment, resin):
    post(mes_client, lot_body(code="L-A", parents=[{"lot": "M-RESIN-1", "quantity": 1.0}]))

    resin_view = mes_client.get(f"{LOTS}M-RESIN-1/").json()
    lot_view = mes_client.get(f"{LOTS}L-A/").json()

    assert resin_view["children"] == [{"lot": "L-A", "quantity": 1.0, "unit": "kg"}]
    assert lot_view["parents"] == [{"lot": "M-RESIN-1", "quantity": 1.0, "unit": "kg"}]
    assert lot_view["runs"][0]["equipment"] == "IMM01"


def test_get_unknown_code_is_404_with_the_code_named(mes_client, site):
    response = mes_client.get(f"{LOTS}L-NONE/")

    assert response.status_code == 404
    assert "L-NONE" in response.json()["error"]["message"]


@pytest.fixture
def three_lots(mes_client, site, equipment):
    imm02 = EquipmentFactory(code="IMM02", work_center=equipment.work_center, site=site)
    ProductFactory(site=site, part_number="PN-1", revision="A")
    post(mes_client, lot_body(code="L-A", ended_at=ts(10), product="PN-1"))
    post(mes_client, lot_body(code="L-B", started_at=ts(10), ended_at=ts(12)))
    post(mes_client, lot_body(code="L-C", equipment="IMM02", started_at=ts(9), ended_at=ts(11)))
    post(mes_client, {"code": "M-1", "kind": "material"})
    return imm02


def codes(response):
    assert response.status_code == 200, response.json()
    return sorted(item["code"] for item in response.json()["results"])


@pytest.mark.parametrize(("query", "expected"), [
    ("kind=material", ["M-1"]),
    ("code=L-B", ["L-B"]),
    ("product=PN-1", ["L-A"]),
    ("product=PN-1@B", []),
    ("equipment=IMM02", ["L-C"]),
    ("ran_between=2026-11-20T10:30:00Z,2026-11-20T10:45:00Z", ["L-B", "L-C"]),
    ("equipment=IMM01&ran_between=2026-11-20T10:30:00Z,2026-11-20T10:45:00Z", ["L-B"]),
    ("ran_between=2026-11-20T11:30:00Z,", ["L-B"]),
    # an unencoded "+08:00" arrives as " 08:00"
    ("ran_between=2026-11-20T18:30:00 08:00,2026-11-20T18:45:00 08:00", ["L-B", "L-C"]),
])
def test_list_filters(mes_client, three_lots, query, expected):
    assert codes(mes_client.get(f"{LOTS}?{query}")) == expected


@pytest.mark.parametrize("window", [
    "2026-11-20T10:30:00,2026-11-20T11:00:00", "garbage", "2026-11-20T12:00:00Z,2026-11-20T11:00:00Z",
])
def test_bad_ran_between_is_a_400(mes_client, three_lots, window):
    response = mes_client.get(f"{LOTS}?ran_between={window}")

    assert response.status_code == 400
    assert "ran_between" in response.json()["error"]["details"]


def test_list_does_not_query_per_lot(mes_client, three_lots, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        response = mes_client.get(LOTS)
    assert len(response.json()["results"]) == 4
