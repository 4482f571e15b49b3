"""Audit trail pages: browse with filters, readable before → after, CSV export, chain verification."""
import pytest
from django.urls import reverse

from qms.audit.chain import ChainProblem
from qms.services.dictionary import update_characteristic
from tests.factories import CharacteristicFactory
from tests.web_support import signed_in, user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor_web(site):
    return signed_in(user_with_role("auditor", site))


def test_auditor_sees_the_sites_entries_only(auditor_web, site, other_site, characteristic):
    CharacteristicFactory(site=other_site, code="IMM09.OTHER.TEMP")
    reprs = [entry.object_repr for entry in auditor_web.get(reverse("audit-list")).context["entries"]]
    assert characteristic.code in reprs
    assert "IMM09.OTHER.TEMP" not in reprs


def test_changes_are_shown_with_field_names_before_and_after(auditor_web, characteristic):
    update_characteristic(characteristic.pk, {"usl": 236.0}, reason="capability study")
    html = auditor_web.get(reverse("audit-list"), {"model": "qms.Characteristic", "action": "update"}).content.decode()
    assert "upper specification limit" in html
    assert '<span class="change-before">235.0</span> → <span class="change-after">236.0</span>' in html
    assert "capability study" in html


def test_filters_by_record_type_and_id(auditor_web, site, characteristic):
    other = CharacteristicFactory(site=site, code="IMM01.MOULD.TEMP")
    entries = auditor_web.get(reverse("audit-list"), {"model": "qms.Characteristic", "object_pk": other.pk})
    assert {entry.object_pk for entry in entries.context["entries"]} == {str(other.pk)}


def test_filters_by_actor_and_date_range(auditor_web, characteristic):
    entries = auditor_web.get(reverse("audit-list"), {"actor": "nobody-like-this"}).context["entries"]
    assert list(entries) == []
    entries = auditor_web.get(reverse("audit-list"), {"since": "2000-01-01", "until": "2000-01-02"}).context["entries"]
    assert list(entries) == []


def test_csv_export_contains_the_filtered_entries_with_hashes(auditor_web, characteristic):
    response = auditor_web.get(reverse("audit-export"), {"model": "qms.Characteristic"})
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    header, *rows = text.strip().splitlines()
    assert "hash" in header and "reason" in header
    assert rows and all("qms.Characteristic" in row for row in rows)


def test_verify_chain_reports_an_intact_chain(auditor_web, characteristic):
    response = auditor_web.post(reverse("audit-verify"), follow=True)
    assert response.context["verification"]["problem_count"] == 0
    assert "intact" in response.content.decode()


def test_verify_chain_reports_where_it_is_broken(auditor_web, monkeypatch):
    monkeypatch.setattr("qms.web.views.audit.verify_chain",
                        lambda: (7, [ChainProblem(4, "content does not match its hash (entry was altered)")]))
    response = auditor_web.post(reverse("audit-verify"), follow=True)
    html = response.content.decode()
    assert "#4: content does not match its hash" in html
    assert "broken" in html


def test_quality_engineer_may_not_browse_the_trail(engineer):
    client = signed_in(engineer)
    assert client.get(reverse("audit-list")).status_code == 403
    assert client.get(reverse("audit-export")).status_code == 403
