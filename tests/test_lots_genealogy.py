"""Genealogy edges and the recursive forward/backward traces over them."""
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import LotFactory
from traceability import services
from traceability.models import GenealogyEdge, Lot


def lots(site, *codes):
    return [LotFactory(site=site, code=code) for code in codes]


def link(parent, child, quantity=None):
    return services.add_genealogy_edge(parent, child, quantity)[0]


def by_code(depths: dict[int, int]) -> dict[str, int]:
    codes = dict(Lot.objects.filter(pk__in=depths).values_list("pk", "code"))
    return {codes[pk]: depth for pk, depth in depths.items()}


@pytest.fixture
def diamond(site):
    """M → A, M → B, A → P, B → P, and P → Q."""
    m, a, b, p, q = lots(site, "M", "A", "B", "P", "Q")
    for parent, child in [(m, a), (m, b), (a, p), (b, p), (p, q)]:
        link(parent, child)
    return {lot.code: lot for lot in (m, a, b, p, q)}


# --- traces --------------------------------------------------------------------------------------------------------


def test_forward_trace_of_a_diamond_reaches_each_lot_once_at_its_shortest_depth(diamond):
    assert by_code(services.trace_forward([diamond["M"].pk])) == {"M": 0, "A": 1, "B": 1, "P": 2, "Q": 3}


def test_backward_trace_of_a_diamond(diamond):
    assert by_code(services.trace_backward([diamond["Q"].pk])) == {"Q": 0, "P": 1, "A": 2, "B": 2, "M": 3}


def test_trace_from_several_seeds_takes_the_nearest(diamond):
    assert by_code(services.trace_forward([diamond["M"].pk, diamond["P"].pk])) == {
        "M": 0, "P": 0, "A": 1, "B": 1, "Q": 1,
    }


def test_trace_of_a_lot_without_edges_is_the_lot_itself(site):
    (lonely,) = lots(site, "L-ALONE")

    assert services.trace_forward([lonely.pk]) == {lonely.pk: 0}


def test_trace_ignores_unknown_ids_and_empty_input(diamond):
    assert services.trace_forward([]) == {}
    assert services.trace_forward([10**12]) == {}


def test_deep_chain_is_traced_to_the_end(site):
    chain = lots(site, *[f"C{i:03d}" for i in range(120)])
    GenealogyEdge.objects.bulk_create(GenealogyEdge(parent=p, child=c) for p, c in zip(chain, chain[1:], strict=False))

    depths = services.trace_forward([chain[0].pk], max_depth=500)

    assert len(depths) == 120 and depths[chain[-1].pk] == 119
    assert services.trace_backward([chain[-1].pk], max_depth=500)[chain[0].pk] == 119


def test_depth_guard_stops_a_deep_chain(site):
    chain = lots(site, *[f"C{i:03d}" for i in range(20)])
    GenealogyEdge.objects.bulk_create(GenealogyEdge(parent=p, child=c) for p, c in zip(chain, chain[1:], strict=False))

    depths = services.trace_forward([chain[0].pk], max_depth=5)

    assert sorted(depths.values()) == [0, 1, 2, 3, 4, 5]


def test_walk_terminates_on_a_cycle_written_behind_the_services_back(site):
    a, b, c = lots(site, "CY-A", "CY-B", "CY-C")
    # bulk_create skips the service's cycle check: the data is as bad as a broken import could make it.
    GenealogyEdge.objects.bulk_create([
        GenealogyEdge(parent=a, child=b), GenealogyEdge(parent=b, child=c), GenealogyEdge(parent=c, child=a),
    ])

    assert by_code(services.trace_forward([a.pk])) == {"CY-A": 0, "CY-B": 1, "CY-C": 2}
    assert by_code(services.trace_backward([a.pk])) == {"CY-A": 0, "CY-C": 1, "CY-B": 2}
    assert services.genealogy_path(a.pk, c.pk) == [a.pk, b.pk, c.pk]


def data_statements(queries) -> list[str]:
    """The statements that read data (not transaction control or session settings)."""
    return [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith(("SET ", "SAVEPOINT", "RELEASE"))]


def test_trace_accepts_a_queryset_and_runs_as_one_statement(diamond, equipment):
    services.start_lot_run(diamond["M"], equipment, datetime(2026, 11, 20, 8, tzinfo=UTC))
    in_window = services.lots_on_equipment_between(equipment, datetime(2026, 11, 20, 7, tzinfo=UTC), None)

    with CaptureQueriesContext(connection) as captured:
        depths = services.trace_forward(in_window)

    assert by_code(depths) == {"M": 0, "A": 1, "B": 1, "P": 2, "Q": 3}
    assert len(data_statements(captured.captured_queries)) == 1


def test_trace_takes_many_seed_ids_as_one_parameter(diamond):
    # SQLite refuses more than 32,766 bind variables: the seeds must not become one each.
    seeds = [diamond["P"].pk, *range(10**9, 10**9 + 40_000)]

    with CaptureQueriesContext(connection) as captured:
        depths = services.trace_forward(seeds)

    assert by_code(depths) == {"P": 0, "Q": 1}
    assert len(data_statements(captured.captured_queries)) == 1


# --- add_genealogy_edge --------------------------------------------------------------------------------------------


def test_edge_is_idempotent_and_fills_in_a_missing_quantity(site):
    parent, child = lots(site, "M-1", "L-1")
    first, created = services.add_genealogy_edge(parent, child)

    again, created_again = services.add_genealogy_edge(parent, child, 2.5, "kg")

    assert created and not created_again and again.pk == first.pk
    assert (again.quantity, again.unit) == (2.5, "kg")


def test_edge_with_another_quantity_is_a_conflict(site):
    parent, child = lots(site, "M-1", "L-1")
    services.add_genealogy_edge(parent, child, 2.5, "kg")

    with pytest.raises(services.Conflict) as raised:
        services.add_genealogy_edge(parent, child, 3.0, "kg")

    assert raised.value.differences == {"quantity": {"stored": 2.5, "sent": 3.0}}


def test_edge_closing_a_cycle_is_refused_with_the_cycle_named(diamond):
    with pytest.raises(ValidationError) as raised:
        services.add_genealogy_edge(diamond["Q"], diamond["M"])

    message = raised.value.message_dict["cycle"][0]
    assert "Q → M → A → P → Q" in message or "Q → M → B → P → Q" in message
    assert not GenealogyEdge.objects.filter(parent=diamond["Q"], child=diamond["M"]).exists()


def test_shortcut_edge_in_the_same_direction_is_fine(diamond):
    _edge, created = services.add_genealogy_edge(diamond["M"], diamond["Q"])

    assert created


def test_self_link_is_refused(site):
    (lot,) = lots(site, "L-1")

    with pytest.raises(ValidationError):
        services.add_genealogy_edge(lot, lot)


def test_edge_across_sites_is_refused(site, other_site):
    parent = LotFactory(site=site, code="M-1")
    child = LotFactory(site=other_site, code="L-1")

    with pytest.raises(ValidationError):
        services.add_genealogy_edge(parent, child)


@pytest.mark.parametrize("quantity", [-1.0, float("nan"), float("inf")])
def test_edge_quantity_must_be_finite_and_not_negative(site, quantity):
    parent, child = lots(site, "M-1", "L-1")

    with pytest.raises(ValidationError):
        services.add_genealogy_edge(parent, child, quantity)


# --- API -----------------------------------------------------------------------------------------------------------


GENEALOGY = "/api/v1/genealogy/"


def test_post_edge_then_repost_is_idempotent(mes_client, site):
    lots(site, "M-1", "L-1")
    body = {"parent": "M-1", "child": "L-1", "quantity": 12.5, "unit": "kg"}

    first = mes_client.post(GENEALOGY, body, format="json")
    again = mes_client.post(GENEALOGY, body, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["parent"] == "M-1" and first.json()["quantity"] == 12.5
    assert GenealogyEdge.objects.count() == 1


def test_post_edge_with_unknown_lots_names_them(mes_client, site):
    response = mes_client.post(GENEALOGY, {"parent": "M-X", "child": "L-Y"}, format="json")

    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert "M-X" in details["parent"][0] and "L-Y" in details["child"][0]


def test_post_edge_closing_a_cycle_is_a_400(mes_client, diamond):
    response = mes_client.post(GENEALOGY, {"parent": "Q", "child": "A"}, format="json")

    assert response.status_code == 400
    assert "cycle" in response.json()["error"]["details"]


def test_post_edge_with_another_quantity_is_a_409(mes_client, site):
    parent, child = lots(site, "M-1", "L-1")
    services.add_genealogy_edge(parent, child, 1.0, "kg")

    response = mes_client.post(GENEALOGY, {"parent": "M-1", "child": "L-1", "quantity": 2.0}, format="json")

    assert response.status_code == 409


def test_get_edges_of_a_lot_lists_its_direct_parents_and_children(mes_client, diamond):
    response = mes_client.get(f"{GENEALOGY}?lot=P")

    assert response.status_code == 200
    assert sorted((e["parent"], e["child"]) for e in response.json()["results"]) == [("A", "P"), ("B", "P"), ("P", "Q")]
