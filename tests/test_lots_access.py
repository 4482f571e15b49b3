"""Who may read and write lots, runs and genealogy, in which site — and that the audit trail names them."""
from datetime import UTC, datetime

import pytest

from qms.audit.chain import verify_chain
from qms.models import AuditEntry
from tests.factories import EquipmentFactory, LotFactory, UserFactory, token_client, user_client
from traceability import services
from traceability.models import GenealogyEdge, Lot

LOTS = "/api/v1/lots/"
START = "2026-11-20T08:00:00Z"


@pytest.fixture
def foreign_equipment(other_site):
    return EquipmentFactory(code="IMM07", work_center__line__area__site=other_site, site=other_site)


@pytest.fixture
def foreign_lot(other_site, foreign_equipment):
    lot = LotFactory(site=other_site, code="L-S2")
    services.start_lot_run(lot, foreign_equipment, datetime(2026, 11, 20, 8, tzinfo=UTC))
    return lot


# --- machine tokens ------------------------------------------------------------------------------------------------


def test_token_cannot_read_another_sites_lot(mes_client, foreign_lot):
    assert mes_client.get(f"{LOTS}L-S2/").status_code == 404
    assert mes_client.get(LOTS).json()["results"] == []
    assert mes_client.get("/api/v1/lot-runs/").json()["results"] == []


def test_token_cannot_write_with_another_sites_equipment(mes_client, site, foreign_equipment):
    response = mes_client.post(LOTS, {"code": "L-1", "equipment": "IMM07", "started_at": START}, format="json")

    assert response.status_code == 400
    assert "IMM07" in response.json()["error"]["message"]
    assert not Lot.objects.filter(code="L-1").exists()


def test_token_cannot_name_another_sites_lot_as_parent(mes_client, equipment, foreign_lot):
    response = mes_client.post(
        LOTS, {"code": "L-1", "equipment": "IMM01", "started_at": START, "parents": [{"lot": "L-S2"}]}, format="json"
    )

    assert response.status_code == 400
    assert "L-S2" in response.json()["error"]["details"]["parents"][0]


def test_token_cannot_name_another_site_in_the_body(mes_client, equipment, other_site):
    response = mes_client.post(LOTS, {"site": "S2", "code": "L-1", "equipment": "IMM01", "started_at": START},
                               format="json")

    assert response.status_code == 403


def test_token_cannot_end_another_sites_lot(mes_client, foreign_lot):
    response = mes_client.post(f"{LOTS}L-S2/end/", {"ended_at": "2026-11-20T09:00:00Z"}, format="json")

    assert response.status_code == 404
    assert foreign_lot.runs.get().ended_at is None


def test_the_same_code_in_two_sites_are_two_lots(mes_client, equipment, foreign_lot):
    response = mes_client.post(LOTS, {"code": "L-S2", "equipment": "IMM01", "started_at": START}, format="json")

    assert response.status_code == 201
    assert Lot.objects.filter(code="L-S2").count() == 2


@pytest.mark.parametrize(("method", "path"), [
    ("get", LOTS), ("post", LOTS), ("get", "/api/v1/genealogy/"), ("post", "/api/v1/genealogy/"),
    ("get", "/api/v1/lot-runs/"), ("post", f"{LOTS}L-1/end/"),
])
def test_token_without_ingest_scope_is_refused(site, method, path):
    client, _token = token_client(site, scopes=("verdicts:read",))

    response = getattr(client, method)(path, {}, format="json")

    assert response.status_code == 403
    assert "ingest" in response.json()["error"]["message"]


def test_anonymous_is_refused(api_client, db):
    assert api_client.get(LOTS).status_code in (401, 403)
    assert api_client.post(LOTS, {}, format="json").status_code in (401, 403)


# --- users ---------------------------------------------------------------------------------------------------------


def test_user_sees_only_lots_of_their_sites(site, equipment, foreign_lot):
    LotFactory(site=site, code="L-S1")
    client = user_client(UserFactory(username="op", role="operator", sites=[site]))

    assert [lot["code"] for lot in client.get(LOTS).json()["results"]] == ["L-S1"]
    assert client.get(f"{LOTS}L-S2/").status_code == 404


def test_operator_may_register_a_lot(site, equipment):
    client = user_client(UserFactory(username="op", role="operator", sites=[site]))

    response = client.post(LOTS, {"code": "L-1", "equipment": "IMM01", "started_at": START}, format="json")

    assert response.status_code == 201


def test_auditor_may_read_but_not_write(site, equipment):
    LotFactory(site=site, code="L-1")
    client = user_client(UserFactory(username="aud", role="auditor", sites=[site]))

    assert client.get(f"{LOTS}L-1/").status_code == 200
    assert client.post(LOTS, {"code": "L-2", "equipment": "IMM01", "started_at": START}, format="json").status_code == 403


def test_user_without_view_permission_cannot_read(site):
    client = user_client(UserFactory(username="nobody", sites=[site]))

    assert client.get(LOTS).status_code == 403


def test_user_of_two_sites_disambiguates_a_code_with_site(site, other_site, equipment, foreign_lot):
    LotFactory(site=site, code="L-S2")
    client = user_client(UserFactory(username="both", role="auditor", sites=[site, other_site]))

    ambiguous = client.get(f"{LOTS}L-S2/")
    named = client.get(f"{LOTS}L-S2/?site=S2")

    assert ambiguous.status_code == 400 and ambiguous.json()["error"]["details"]["sites"] == ["S1", "S2"]
    assert named.status_code == 200 and named.json()["site"] == "S2"


def test_user_cannot_write_to_a_site_they_do_not_belong_to(site, other_site, foreign_equipment):
    client = user_client(UserFactory(username="op", role="operator", sites=[site]))

    response = client.post(LOTS, {"site": "S2", "code": "L-1", "equipment": "IMM07", "started_at": START},
                           format="json")

    assert response.status_code == 403


# --- audit ---------------------------------------------------------------------------------------------------------


def test_token_writes_are_audited_with_the_token_as_actor(site, equipment):
    client, token = token_client(site, name="MES-LINE-1")
    LotFactory(site=site, code="M-1", kind="material")
    last_seq = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()

    client.post(LOTS, {"code": "L-1", "equipment": "IMM01", "started_at": START, "parents": [{"lot": "M-1"}]},
                format="json")
    client.post(f"{LOTS}L-1/end/", {"ended_at": "2026-11-20T09:00:00Z"}, format="json")

    entries = AuditEntry.objects.filter(model__startswith="traceability.", seq__gt=last_seq).order_by("seq")
    assert [(e.model, e.action) for e in entries] == [
        ("traceability.Lot", "create"), ("traceability.LotRun", "create"), ("traceability.GenealogyEdge", "create"),
        ("traceability.LotRun", "update"),
    ]
    assert {(e.actor, e.actor_token_id, e.site_id) for e in entries} == {("token:MES-LINE-1", token.pk, site.pk)}
    assert verify_chain()[1] == []


def test_user_writes_are_audited_with_the_user_as_actor(site, equipment):
    user = UserFactory(username="op-li", role="operator", sites=[site])

    user_client(user).post(LOTS, {"code": "L-1", "equipment": "IMM01", "started_at": START}, format="json")

    entry = AuditEntry.objects.get(model="traceability.Lot")
    assert (entry.actor, entry.actor_user_id) == ("op-li", user.pk)


def test_close_previous_is_audited_with_its_reason(mes_client, equipment):
    mes_client.post(LOTS, {"code": "L-1", "equipment": "IMM01", "started_at": START}, format="json")
    mes_client.post(LOTS, {"code": "L-2", "equipment": "IMM01", "started_at": "2026-11-20T09:00:00Z",
                           "close_previous": True}, format="json")

    closing = AuditEntry.objects.get(model="traceability.LotRun", action="update")
    assert "L-2" in closing.reason
    assert closing.changes["ended_at"][1].startswith("2026-11-20")


def test_refused_writes_leave_no_trace(mes_client, equipment):
    mes_client.post(LOTS, {"code": "L-1", "equipment": "IMM01", "started_at": START}, format="json")
    before = AuditEntry.objects.count()

    mes_client.post(LOTS, {"code": "L-1", "kind": "material"}, format="json")  # 409
    mes_client.post(LOTS, {"code": "L-2", "equipment": "IMM01", "started_at": "2026-11-20T09:00:00Z"},
                    format="json")  # 409: machine busy

    assert AuditEntry.objects.count() == before
    assert not GenealogyEdge.objects.exists() and not Lot.objects.filter(code="L-2").exists()
