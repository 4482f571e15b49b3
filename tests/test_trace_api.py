"""GET /api/v1/lots/{code}/trace/: JSON shape, CSV export, site scoping, errors."""
import csv
import io
from datetime import UTC, datetime

import pytest

from tests.factories import EquipmentFactory, LotRunFactory, UserFactory, token_client, user_client
from tests.factories_trace import hold_lots, link_all, make_lots
from traceability.api.trace import CSV_COLUMNS


@pytest.fixture
def genealogy(site):
    """RESIN → P1 → PACK, and RESIN → P2 (a sibling of P1)."""
    lots = make_lots(site, "RESIN", "P1", "P2", "PACK")
    link_all(lots, [("RESIN", "P1"), ("RESIN", "P2"), ("P1", "PACK")], quantity=2.5, unit="kg")
    imm = EquipmentFactory(code="IMM02", work_center__line__area__site=site, site=site)
    LotRunFactory(lot=lots["P1"], equipment=imm, started_at=datetime(2026, 11, 28, 6, tzinfo=UTC),
                  ended_at=datetime(2026, 11, 28, 8, tzinfo=UTC))
    hold_lots(site, lots["PACK"], number="H-3")
    return lots


def trace(client, code, **params):
    return client.get(f"/api/v1/lots/{code}/trace/", params)


def parse_csv(response) -> list[dict]:
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(body[1:])))


def test_trace_json_has_nodes_edges_and_flags(engineer_client, genealogy):
    response = trace(engineer_client, "P1")

    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in ("lot", "direction", "max_depth", "truncated")} == {
        "lot": "P1", "direction": "both", "max_depth": 50, "truncated": False}
    nodes = {node["lot"]: node for node in body["nodes"]}
    assert set(nodes) == {"RESIN", "P1", "PACK"}
    assert nodes["P1"]["runs"] == [{"equipment": "IMM02", "started_at": "2026-11-28T06:00:00Z",
                                    "ended_at": "2026-11-28T08:00:00Z"}]
    assert (nodes["PACK"]["held"], nodes["PACK"]["holds"], nodes["PACK"]["side"]) == (True, ["H-3"], "forward")
    assert set(nodes["RESIN"]) == {"lot", "kind", "product", "quantity", "unit", "side", "depth", "runs",
                                   "serial_count", "held", "holds"}
    assert sorted((e["parent"], e["child"], e["quantity"], e["unit"]) for e in body["edges"]) == [
        ("P1", "PACK", 2.5, "kg"), ("RESIN", "P1", 2.5, "kg")]


def test_direction_backward_only_goes_upstream(engineer_client, genealogy):
    body = trace(engineer_client, "P1", direction="backward").json()

    assert {node["lot"] for node in body["nodes"]} == {"RESIN", "P1"}


def test_max_depth_is_applied(engineer_client, genealogy):
    body = trace(engineer_client, "RESIN", direction="forward", max_depth=1).json()

    assert {node["lot"] for node in body["nodes"]} == {"RESIN", "P1", "P2"}
    assert body["reached_max_depth"] is True


def test_csv_export_parses_back_to_one_row_per_edge(engineer_client, genealogy):
    response = trace(engineer_client, "P1", format="csv")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="trace-P1-both.csv"' in response["Content-Disposition"]
    rows = parse_csv(response)
    assert list(rows[0]) == CSV_COLUMNS
    by_edge = {(row["parent_lot"], row["child_lot"]): row for row in rows}
    assert set(by_edge) == {("RESIN", "P1"), ("P1", "PACK")}
    upstream, downstream = by_edge[("RESIN", "P1")], by_edge[("P1", "PACK")]
    assert (upstream["side"], upstream["depth"], float(upstream["edge_quantity"]), upstream["edge_unit"]) == (
        "backward", "1", 2.5, "kg")
    assert upstream["child_runs"] == "IMM02 2026-11-28T06:00:00Z/2026-11-28T08:00:00Z"
    assert (downstream["side"], downstream["child_held"], downstream["parent_held"]) == ("forward", "yes", "no")


def test_csv_of_a_lot_without_genealogy_is_the_header_only(engineer_client, site):
    make_lots(site, "ALONE")

    rows = parse_csv(trace(engineer_client, "ALONE", format="csv"))

    assert rows == []


def test_csv_errors_answer_in_json(engineer_client, genealogy):
    response = trace(engineer_client, "P1", format="csv", direction="up")

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"direction": [response.json()["error"]["message"]]}


@pytest.mark.parametrize(("params", "field"), [
    ({"direction": "sideways"}, "direction"),
    ({"max_depth": "deep"}, "max_depth"),
    ({"max_depth": "999"}, "max_depth"),
])
def test_bad_parameters_answer_400_naming_the_parameter(engineer_client, genealogy, params, field):
    response = trace(engineer_client, "P1", **params)

    assert response.status_code == 400
    assert field in response.json()["error"]["details"]


def test_unknown_lot_is_404(engineer_client, site):
    response = trace(engineer_client, "NOPE")

    assert response.status_code == 404
    assert "NOPE" in response.json()["error"]["message"]


def test_a_lot_of_another_site_is_not_found(engineer_client, other_site):
    make_lots(other_site, "FOREIGN")

    assert trace(engineer_client, "FOREIGN").status_code == 404


def test_machine_token_with_ingest_scope_reads_its_own_site(mes_client, genealogy, other_site):
    make_lots(other_site, "FOREIGN")

    assert trace(mes_client, "P1").status_code == 200
    assert trace(mes_client, "FOREIGN").status_code == 404


def test_token_without_ingest_scope_is_refused(site, genealogy):
    client, _token = token_client(site, scopes=("verdicts:read",))

    response = trace(client, "P1")

    assert response.status_code == 403 and response.json()["error"]["code"] == "missing_scope"


def test_user_without_site_membership_sees_nothing(genealogy, other_site):
    stranger = UserFactory(username="stranger", role="quality_engineer", sites=[other_site])

    assert trace(user_client(stranger), "P1").status_code == 404
