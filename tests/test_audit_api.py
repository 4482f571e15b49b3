"""Auditors browse and export the trail: GET /api/v1/audit/ (filters, site scoping) and
GET /api/v1/audit/export/?as=csv (streaming, BOM, re-verifiable by an external party)."""
import csv
import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from qms.audit.canonical import verify_exported_rows
from qms.audit.chain import record_audit
from qms.audit.export import EXPORT_COLUMNS, export_audit_csv
from qms.models import AuditEntry
from tests.factories import UserFactory, make_token


@pytest.fixture
def trail(site, other_site):
    """Entries in S1, S2 and global ones, with known content."""
    return {
        "s1": record_audit(action="update", model="qms.Characteristic", object_pk=11, object_repr="IMM01.Z1.TEMP",
                           site_id=site.pk, changes={"usl": [235.0, 236.5]}, reason="drawing rev B"),
        "s2": record_audit(action="update", model="qms.Characteristic", object_pk=22, object_repr="S2-SECRET",
                           site_id=other_site.pk, changes={"usl": [1, 2]}),
        "global": record_audit(action="update", model="auth.User", object_pk=5, object_repr="someone",
                               changes={"roles": [None, "auditor"]}),
        "formula": record_audit(action="update", model="traceability.Lot", object_pk=7, object_repr="=HYPERLINK(1)",
                                site_id=site.pk, changes={}, reason="+1 correction"),
    }


@pytest.fixture
def auditor_client(site):
    client = APIClient()
    client.force_login(UserFactory(username="aud", role="auditor", sites=[site]))
    return client


def _seqs(response) -> list[int]:
    return [item["seq"] for item in response.json()["results"]]


def test_auditor_sees_own_site_and_global_entries_newest_first(auditor_client, trail):
    response = auditor_client.get("/api/v1/audit/")
    assert response.status_code == 200
    seqs = _seqs(response)
    assert trail["s2"].seq not in seqs
    assert {trail["s1"].seq, trail["global"].seq, trail["formula"].seq} <= set(seqs)
    assert seqs == sorted(seqs, reverse=True)
    assert "S2-SECRET" not in response.content.decode()


def test_entry_carries_what_an_auditor_needs(auditor_client, trail):
    item = auditor_client.get(f"/api/v1/audit/{trail['s1'].seq}/").json()
    assert item["changes"] == {"usl": [235.0, 236.5]}
    assert (item["reason"], item["site"], item["model"], item["action"]) == ("drawing rev B", "S1", "qms.Characteristic",
                                                                             "update")
    assert item["hash"] == trail["s1"].hash and item["prev_hash"] == trail["s1"].prev_hash


def test_other_sites_entry_is_not_found(auditor_client, trail):
    assert auditor_client.get(f"/api/v1/audit/{trail['s2'].seq}/").status_code == 404


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("model=qms.Characteristic", ["s1"]),
        ("model=characteristic", ["s1"]),
        ("model=lot&object_pk=7", ["formula"]),
        ("object_pk=5", ["global"]),
        ("actor=SYSTEM", ["formula", "global", "s1"]),
        ("site=S1", ["formula", "s1"]),
    ],
)
def test_filters(auditor_client, trail, query, expected):
    seqs = _seqs(auditor_client.get(f"/api/v1/audit/?{query}&page_size=1000"))
    wanted = {trail[name].seq for name in expected}
    assert wanted <= set(seqs)
    assert not ({entry.seq for entry in trail.values()} - wanted) & set(seqs)


def test_time_filters(auditor_client, trail):
    since = (trail["global"].ts).isoformat()
    seqs = _seqs(auditor_client.get("/api/v1/audit/", {"since": since}))
    assert trail["s1"].seq not in seqs and trail["global"].seq in seqs
    seqs = _seqs(auditor_client.get("/api/v1/audit/", {"until": (timezone.now() - dt.timedelta(days=1)).isoformat()}))
    assert seqs == []


def test_bad_time_filter_is_a_clear_400(auditor_client, trail):
    response = auditor_client.get("/api/v1/audit/?since=yesterday")
    assert response.status_code == 400
    assert "since" in response.json()["error"]["details"]


@pytest.mark.parametrize("role", ["operator", "supervisor", "quality_engineer"])
def test_audit_needs_the_view_auditentry_permission(site, trail, role):
    client = APIClient()
    client.force_login(UserFactory(role=role, sites=[site]))
    assert client.get("/api/v1/audit/").status_code == 403
    assert client.get("/api/v1/audit/export/?as=csv").status_code == 403


def test_machine_tokens_cannot_read_the_trail(site, trail):
    _token, raw = make_token(site, scopes=("ingest", "verdicts:read", "dictionary:write"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/audit/").status_code == 403
    assert client.get("/api/v1/audit/export/").status_code == 403


# --- export ----------------------------------------------------------------------------------------------------------

def _read_export(response) -> tuple[str, list[dict]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    return text, list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def test_export_streams_csv_with_bom_in_chain_order(auditor_client, trail):
    response = auditor_client.get("/api/v1/audit/export/?as=csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-trail-')
    text, rows = _read_export(response)
    assert text.startswith("\ufeffseq,ts,actor,")
    assert list(rows[0].keys()) == list(EXPORT_COLUMNS)
    seqs = [int(row["seq"]) for row in rows]
    assert seqs == sorted(seqs) and trail["s2"].seq not in seqs


def test_export_is_reverifiable_by_an_external_party(auditor_client, trail):
    _text, rows = _read_export(auditor_client.get("/api/v1/audit/export/"))
    problems = list(verify_exported_rows(rows))
    # The only remarks: the other site's entries are not in this export (gaps are visible, the links around hold).
    hidden = sorted(set(AuditEntry.objects.values_list("seq", flat=True)) - {int(row["seq"]) for row in rows})
    assert trail["s2"].seq in hidden
    assert problems == [(seq + 1, f"entry #{seq} is not in this export") for seq in hidden]


def test_export_of_the_whole_chain_verifies_without_remarks(trail):
    rows = list(csv.DictReader(io.StringIO("".join(export_audit_csv(AuditEntry.objects.all())).removeprefix("\ufeff"))))
    assert list(verify_exported_rows(rows)) == []


def test_edited_export_row_is_detected(trail):
    text = "".join(export_audit_csv(AuditEntry.objects.all())).removeprefix("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text)))
    row = next(row for row in rows if int(row["seq"]) == trail["s1"].seq)
    row["payload"] = row["payload"].replace("drawing rev B", "drawing rev C")
    assert (trail["s1"].seq, "content does not match its hash") in list(verify_exported_rows(rows))


def test_verify_command_checks_an_export_file(trail, tmp_path):
    path = tmp_path / "audit.csv"
    path.write_text("".join(export_audit_csv(AuditEntry.objects.all())), encoding="utf-8")
    out = io.StringIO()
    call_command("verify_audit_chain", csv=str(path), stdout=out)
    assert f"Checked {AuditEntry.objects.count()} audit entries." in out.getvalue()
    path.write_text(path.read_text(encoding="utf-8").replace("drawing rev B", "drawing rev X"), encoding="utf-8")
    with pytest.raises(CommandError, match="FAILED"):
        call_command("verify_audit_chain", csv=str(path), stdout=io.StringIO())


def test_export_neutralises_spreadsheet_formulas_but_not_the_payload(auditor_client, trail):
    _text, rows = _read_export(auditor_client.get("/api/v1/audit/export/?model=lot"))
    assert len(rows) == 1
    assert rows[0]["object_repr"] == "'=HYPERLINK(1)" and rows[0]["reason"] == "'+1 correction"
    assert '"object_repr":"=HYPERLINK(1)"' in rows[0]["payload"]


def test_export_applies_the_filters(auditor_client, trail):
    _text, rows = _read_export(auditor_client.get("/api/v1/audit/export/?as=csv&model=qms.Characteristic"))
    assert [int(row["seq"]) for row in rows] == [trail["s1"].seq]
    assert rows[0]["site"] == "S1" and rows[0]["changes"] == '{"usl":[235.0,236.5]}'


def test_export_refuses_unknown_formats(auditor_client, trail):
    response = auditor_client.get("/api/v1/audit/export/?as=xlsx")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unsupported_format"
