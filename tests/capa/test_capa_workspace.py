"""What the 8D workspace adds for the quality engineer: save-and-submit, untouched rows ignored, errors next to the
fishbone, effectiveness reasons in words, the signatures, links to the story and the report, attachments."""
import pytest

from qms.models import Attachment, Capa, CapaStep
from qms.services import capa as capa_service
from tests.factories_capa import COMPLETE, CapaPlant
from tests.factories_nc import PDF, PNG, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant():
    return CapaPlant()


def as_user(client, user):
    client.force_login(user)
    return client


def page_of(client, capa) -> str:
    return client.get(f"/capas/{capa.pk}/").content.decode()


def test_save_and_submit_saves_what_was_typed_then_submits(plant, client):
    capa = plant.capa()
    response = as_user(client, plant.engineer).post(f"/capas/{capa.pk}/steps/D0/submit/",
                                                    {**COMPLETE["D0"], "version": 1})
    row = CapaStep.objects.get(capa=capa, step="D0")
    assert response.status_code == 302 and row.state == "submitted" and row.content["symptom"] == \
        COMPLETE["D0"]["symptom"]


def test_submitting_an_unchanged_form_does_not_save_again(plant, client):
    capa = plant.capa()
    saved = plant.save(capa, "D0")
    as_user(client, plant.engineer).post(f"/capas/{capa.pk}/steps/D0/submit/",
                                         {**COMPLETE["D0"], "version": saved.version})
    row = CapaStep.objects.get(capa=capa, step="D0")
    assert row.state == "submitted" and row.version == saved.version + 1  # the submit's bump only


def test_untouched_prevention_row_is_not_an_item(plant, client):
    capa = plant.capa()
    as_user(client, plant.engineer).post(f"/capas/{capa.pk}/steps/D7/save/", {
        "item_kind": ["control_plan", "dictionary_limits"], "item_reference": ["CP-7001 rev C", ""],
        "item_description": ["zone 2 limit", ""], "version": 1})
    assert CapaStep.objects.get(capa=capa, step="D7").content["items"] == [
        {"kind": "control_plan", "reference": "CP-7001 rev C", "description": "zone 2 limit"}]


def test_d4_without_a_root_cause_shows_the_error_at_the_fishbone(plant, client):
    capa = plant.capa()
    plant.approve_through(capa, "D3")
    response = as_user(client, plant.engineer).post(f"/capas/{capa.pk}/steps/D4/submit/", {"notes": "",
                                                                                          "version": 1})
    page = response.content.decode()
    assert response.status_code == 409
    assert page.index('id="error-D4-root_causes"') < page.index('id="fishbone"')
    assert "Mark at least one cause as root cause and verify it." in page


def test_effectiveness_reasons_read_as_sentences(plant, client):
    capa = plant.capa()
    Capa.objects.filter(pk=capa.pk).update(effectiveness="not_yet", effectiveness_data={
        "verdict": "not_yet", "characteristics": [],
        "reasons": [{"code": "cpk_too_low", "characteristic": "BARREL_Z2", "cpk_after": 0.912, "required": 1.33},
                    {"code": "too_few_points", "characteristic": "BARREL_Z2", "n": 7, "min": 25}],
        "defect_rate": {"before": {"produced": 500.0, "nonconforming": 2.0, "rate": 0.004},
                        "after": {"produced": 0.0, "nonconforming": 0.0, "rate": None}}})
    page = page_of(as_user(client, plant.engineer), capa)
    assert "BARREL_Z2: Cpk after the fix is 0.91; it must reach at least 1.33" in page
    assert "BARREL_Z2: only 7 values since the fix took effect; at least 25" in page
    assert "cpk_too_low" not in page and "too_few_points" not in page
    assert "0.40 % (2 of 500)" in page and "no production in this period" in page


def test_links_to_the_whole_story_and_the_printable_report(plant, client):
    capa = plant.capa()
    page = page_of(as_user(client, plant.engineer), capa)
    assert f'href="/story/capa/{capa.pk}/"' in page and f'href="/capas/{capa.pk}/report/"' in page


def test_signatures_list_each_approval_with_signer_and_meaning(plant, client):
    capa = plant.capa()
    plant.approve_through(capa, "D1")
    page = page_of(as_user(client, plant.engineer), capa)
    section = page[page.index('id="signatures"'):page.index('id="attachments"')]
    assert 'data-step="D0"' in section and 'data-step="D1"' in section and 'data-step="D2"' not in section
    assert "engineer2" in section and "reviewed and approved" in section


def test_attach_a_photo_and_see_it_listed(plant, client):
    capa = plant.capa()
    browser = as_user(client, plant.engineer)
    response = browser.post(f"/capas/{capa.pk}/attach/", {"file": upload("fishbone.png", PNG, "image/png")})
    assert response.status_code == 302 and response["Location"].endswith("#attachments")
    attachment = Attachment.objects.get()
    assert (attachment.record_model, attachment.record_pk, attachment.site_id) == ("qms.capa", str(capa.pk),
                                                                                   plant.site.pk)
    page = page_of(browser, capa)
    assert f'id="attachment-{attachment.pk}"' in page and "fishbone.png" in page
    assert browser.get(f"/nc/attachments/{attachment.pk}/").status_code == 200


def test_attachment_whose_content_is_not_its_type_is_refused(plant, client):
    capa = plant.capa()
    response = as_user(client, plant.engineer).post(f"/capas/{capa.pk}/attach/",
                                                    {"file": upload("report.png", PDF, "image/png")})
    page = response.content.decode()
    assert response.status_code == 400 and 'id="error-attach-file"' in page and "report.png" in page
    assert not Attachment.objects.exists()


def test_attachment_over_the_size_limit_is_refused(plant, client, settings):
    settings.NC_ATTACHMENT_MAX_BYTES = 32
    capa = plant.capa()
    response = as_user(client, plant.engineer).post(f"/capas/{capa.pk}/attach/",
                                                    {"file": upload("big.pdf", PDF, "application/pdf")})
    assert response.status_code == 413 and not Attachment.objects.exists()


def test_only_roles_that_may_attach_can(plant, client):
    capa = plant.capa()
    response = as_user(client, plant.auditor).post(f"/capas/{capa.pk}/attach/",
                                                   {"file": upload("x.png", PNG, "image/png")})
    assert response.status_code == 403 and not Attachment.objects.exists()
    assert 'id="attach-form"' not in page_of(client, capa)


def test_no_attachments_to_a_cancelled_capa(plant, client):
    capa = plant.capa()
    capa_service.cancel_capa(capa.pk, user=plant.engineer, reason="duplicate")
    response = as_user(client, plant.engineer).post(f"/capas/{capa.pk}/attach/",
                                                    {"file": upload("x.png", PNG, "image/png")})
    assert response.status_code == 409 and not Attachment.objects.exists()
