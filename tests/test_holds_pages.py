"""Hold pages: list with filters, detail with per-lot signed decisions and release, placing a hold, access."""
import pytest

from tests.factories_holds import PASSWORD, Plant, alarm_for, at
from tests.web_support import signed_in
from traceability.models import Hold, HoldLot
from traceability.services.holds import freeze_window, place_hold

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant():
    return Plant()


@pytest.fixture
def hold(plant):
    plant.lot("A")
    plant.lot("B")
    return place_hold(plant.site, reason="suspect resin", lots=["A", "B"])


def test_the_list_shows_holds_and_filters_by_state(plant, hold):
    client = signed_in(plant.operator)

    listed = client.get("/holds/")
    filtered = client.get("/holds/?state=released")

    assert listed.status_code == 200 and hold.number in listed.content.decode()
    assert hold.number not in filtered.content.decode()


def test_the_list_filters_by_lot(plant, hold):
    plant.lot("C")
    other = place_hold(plant.site, reason="other", lots=["C"])

    page = signed_in(plant.operator).get("/holds/?lot=C").content.decode()

    assert other.number in page and hold.number not in page


def test_the_navigation_has_a_holds_entry(plant):
    page = signed_in(plant.operator).get("/").content.decode()

    assert 'href="/holds/"' in page


def test_the_detail_shows_scope_alarm_link_and_lots(plant):
    plant.lot("W", equipment=plant.imm02, start=8, end=9)
    alarm = alarm_for(plant, "drift")
    hold = freeze_window(plant.imm02, at(8), reason="barrel zone 2 +4 °C", alarm=alarm)

    page = signed_in(plant.engineer).get(f"/holds/{hold.pk}/").content.decode()

    assert f'href="/alarms/{alarm.pk}/"' in page and "IMM02" in page and ">W<" in page
    assert 'name="password"' in page  # the engineer may decide


def test_the_detail_links_the_whole_story(plant, hold):
    page = signed_in(plant.operator).get(f"/holds/{hold.pk}/").content.decode()

    assert f'href="/story/hold/{hold.pk}/" data-story-link>Whole story</a>' in page


def test_an_operator_sees_the_lots_but_no_decision_forms(plant, hold):
    page = signed_in(plant.operator).get(f"/holds/{hold.pk}/").content.decode()

    assert ">A<" in page and 'name="password"' not in page


def test_a_hold_of_another_site_is_404(plant, hold):
    assert signed_in(plant.foreign_engineer).get(f"/holds/{hold.pk}/").status_code == 404


def test_deciding_a_lot_from_the_page_signs_it(plant, hold):
    entry = HoldLot.objects.get(hold=hold, lot__code="A")

    response = signed_in(plant.engineer).post(f"/holds/{hold.pk}/lots/{entry.pk}/dispose/", {
        "disposition": "scrap", "password": PASSWORD, "meaning": "scrapped: short shots", "version": entry.version})

    entry.refresh_from_db()
    assert response.status_code == 302 and entry.disposition == "scrap" and entry.signature.meaning.startswith("scr")


def test_a_wrong_password_on_the_page_shows_why_and_changes_nothing(plant, hold):
    entry = HoldLot.objects.get(hold=hold, lot__code="A")

    response = signed_in(plant.engineer).post(f"/holds/{hold.pk}/lots/{entry.pk}/dispose/", {
        "disposition": "release", "password": "nope", "meaning": "ok"}, follow=True)

    entry.refresh_from_db()
    assert entry.disposition == "held" and "password is wrong" in response.content.decode()


def test_a_supervisor_cannot_post_a_decision(plant, hold):
    entry = HoldLot.objects.get(hold=hold, lot__code="A")

    response = signed_in(plant.supervisor).post(f"/holds/{hold.pk}/lots/{entry.pk}/dispose/", {
        "disposition": "release", "password": PASSWORD, "meaning": "ok"})

    assert response.status_code == 403 and HoldLot.objects.get(pk=entry.pk).disposition == "held"


def test_release_all_from_the_page(plant, hold):
    signed_in(plant.engineer).post(f"/holds/{hold.pk}/release/", {"password": PASSWORD, "meaning": "all good"})

    hold.refresh_from_db()
    assert hold.state == Hold.State.RELEASED


def test_placing_a_window_hold_from_the_form(plant):
    plant.lot("W", equipment=plant.imm02, start=8, end=9)

    response = signed_in(plant.supervisor).post("/holds/new/", {  # site time (Asia/Shanghai): 07:00-10:00 UTC
        "reason": "barrel zone 2 drift", "equipment": "IMM02", "window_start": "2026-11-20T15:00",
        "window_end": "2026-11-20T18:00", "propagate_forward": "on"})

    hold = Hold.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/holds/{hold.pk}/"
    assert list(hold.lots.values_list("lot__code", flat=True)) == ["W"] and hold.propagate_forward


def test_placing_a_hold_on_unknown_lots_names_them(plant):
    response = signed_in(plant.supervisor).post("/holds/new/", {"reason": "r", "lots": "GHOST-1\nGHOST-2"})

    assert response.status_code == 400 and "GHOST-1, GHOST-2" in response.content.decode()
    assert not Hold.objects.exists()


def test_placing_a_hold_without_reason_is_refused(plant):
    plant.lot("A")

    response = signed_in(plant.supervisor).post("/holds/new/", {"reason": "", "lots": "A"})

    assert response.status_code == 400 and "reason" in response.content.decode().lower()


def test_the_pages_speak_chinese(plant, hold):
    page = signed_in(plant.operator, language="zh-hans").get(f"/holds/{hold.pk}/")

    assert page.status_code == 200 and page["Content-Language"] == "zh-hans"
