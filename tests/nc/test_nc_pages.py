"""The NC pages: list with filters, report/edit forms, detail with story, votes and attachments, the catalogue."""
import pytest

from qms.models import Attachment, DefectCode, Disposition, Nonconformance
from qms.services import nc as nc_service
from tests.factories_nc import PASSWORD, PNG, NcPlant, upload
from tests.web_support import signed_in
from traceability.models import HoldLot
from traceability.services.holds import place_hold

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return NcPlant()


def test_list_shows_and_filters(plant):
    plant.nc(title="Short shots", severity="minor")
    plant.nc(title="Flash everywhere", severity="critical")
    client = signed_in(plant.operator)
    page = client.get("/nc/").content.decode()
    assert "NC-S1-000001" in page and "Flash everywhere" in page
    filtered = client.get("/nc/?severity=critical").content.decode()
    assert "Flash everywhere" in filtered and "Short shots" not in filtered


def test_nav_entry(plant):
    assert 'href="/nc/"' in signed_in(plant.operator).get("/").content.decode()


def test_report_an_nc_with_widgets(plant):
    plant.product_lot("L-1", quantity=300)
    response = signed_in(plant.operator).post("/nc/new/", {
        "title": "Sink marks", "source": "inspection", "severity": "minor", "equipment": plant.imm01.pk,
        "defect_codes": [plant.short_shot.pk], "lots": "L-1 25", "detection_point": "final inspection"})
    nc = Nonconformance.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/nc/{nc.pk}/"
    assert (nc.title, nc.equipment, nc.lots.get().quantity) == ("Sink marks", plant.imm01, 25)


def test_a_bad_lot_line_shows_on_the_form(plant):
    response = signed_in(plant.operator).post("/nc/new/", {
        "title": "x", "source": "inspection", "severity": "minor", "lots": "L-404 5"})
    assert response.status_code == 400 and "L-404" in response.content.decode()
    assert not Nonconformance.objects.exists()


def test_edit_with_a_stale_version_says_reload(plant):
    nc = plant.nc()
    nc_service.update_nc(nc.pk, user=plant.engineer2, expected_version=1, changes={"title": "changed"})
    response = signed_in(plant.engineer).post(f"/nc/{nc.pk}/edit/", {
        "title": "mine", "source": "inspection", "severity": "major", "version": 1})
    assert response.status_code == 400 and "reload" in response.content.decode()
    assert Nonconformance.objects.get().title == "changed"


def test_detail_tells_the_story_and_the_votes(plant):
    lot = plant.product_lot("L-1", quantity=100)
    hold = place_hold(plant.site, reason="short shots seen", lots=[lot])
    nc = plant.in_disposition(lots=[("L-1", 100)], holds=[hold])
    disposition = nc_service.propose_disposition(nc.pk, user=plant.engineer, nc_lot_id=nc.lots.get().pk,
                                                 decision="scrap", quantity=100)
    nc_service.approve_disposition(disposition.pk, user=plant.supervisor, password=PASSWORD,
                                   meaning="agreed at MRB", vote="approve")
    page = signed_in(plant.engineer2).get(f"/nc/{nc.pk}/").content.decode()
    assert hold.number in page and "L-1" in page
    assert "agreed at MRB" in page and "supervisor" in page
    assert 'action="/nc/dispositions/' in page  # the vote form for an MRB member


def test_detail_links_the_whole_story(plant):
    nc = plant.nc()
    page = signed_in(plant.operator).get(f"/nc/{nc.pk}/").content.decode()
    assert f'href="/story/nc/{nc.pk}/" data-story-link>Whole story</a>' in page


def test_vote_through_the_page(plant):
    lot = plant.product_lot("L-1", quantity=100)
    hold = place_hold(plant.site, reason="x", lots=[lot])
    nc = plant.in_disposition(lots=[("L-1", 100)], holds=[hold], severity="minor")
    disposition = nc_service.propose_disposition(nc.pk, user=plant.engineer, nc_lot_id=nc.lots.get().pk,
                                                 decision="use_as_is", quantity=100)
    client = signed_in(plant.engineer2)
    wrong = client.post(f"/nc/dispositions/{disposition.pk}/vote/", {
        "vote": "approve", "password": "nope", "meaning": "ok"}, follow=True)
    assert "password is wrong" in wrong.content.decode()
    client.post(f"/nc/dispositions/{disposition.pk}/vote/", {"vote": "approve", "password": PASSWORD,
                                                              "meaning": "ok"})
    assert Disposition.objects.get().state == "approved" and HoldLot.objects.get().disposition == "release"


def test_propose_through_the_page(plant):
    plant.product_lot("L-1", quantity=100)
    nc = plant.in_disposition(lots=[("L-1", 100)])
    signed_in(plant.engineer).post(f"/nc/{nc.pk}/dispositions/", {
        "nc_lot": nc.lots.get().pk, "decision": "rework", "quantity": 40, "rationale": "regrind"})
    assert Disposition.objects.get().quantity == 40


def test_transitions_through_the_page(plant):
    nc = plant.nc(draft=True)
    client = signed_in(plant.engineer)
    client.post(f"/nc/{nc.pk}/open/")
    assert Nonconformance.objects.get().state == "open"
    client.post(f"/nc/{nc.pk}/close/", {"password": PASSWORD, "meaning": "nothing to disposition"})
    assert Nonconformance.objects.get().state == "closed"


def test_attachments_upload_and_download_with_permission(plant):
    nc = plant.nc()
    signed_in(plant.operator).post(f"/nc/{nc.pk}/attachments/", {"file": upload("photo.png", PNG)})
    attachment = Attachment.objects.get()
    response = signed_in(plant.auditor).get(f"/nc/attachments/{attachment.pk}/")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert signed_in(plant.foreign_engineer).get(f"/nc/attachments/{attachment.pk}/").status_code == 404


def test_a_refused_attachment_shows_why(plant):
    nc = plant.nc()
    page = signed_in(plant.operator).post(f"/nc/{nc.pk}/attachments/", {"file": upload("x.exe", b"MZ")},
                                          follow=True).content.decode()
    assert ".exe" in page and not Attachment.objects.exists()


def test_defect_catalogue_page(plant):
    client = signed_in(plant.engineer)
    page = client.get("/nc/defect-codes/").content.decode()
    assert "SHORT_SHOT" in page and "缺料" in page
    client.post("/nc/defect-codes/", {"code": "gate", "name_en": "Gate vestige", "name_zh": "浇口残留",
                                      "parent": plant.category.pk})
    assert DefectCode.objects.get(code="GATE").site == plant.site
    client.post(f"/nc/defect-codes/{plant.flash.pk}/deactivate/")
    assert DefectCode.objects.get(pk=plant.flash.pk).active is False


def test_pages_render_in_chinese(plant):
    nc = plant.nc()
    assert signed_in(plant.operator, "zh-hans").get(f"/nc/{nc.pk}/").status_code == 200


def test_operators_cannot_open_the_edit_page(plant):
    nc = plant.nc()
    assert signed_in(plant.operator).get(f"/nc/{nc.pk}/edit/").status_code == 403
