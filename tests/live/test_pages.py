"""The alarm pages: the live list (server-rendered open alarms and cursor), the detail with its whole story, and the
response forms (thin views over the alarm services; a fetch gets JSON with the service's error code)."""
import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from qms.live.feed import latest_event_id
from qms.models import Alarm
from qms.services.alarms import acknowledge_alarm, clear_alarm
from tests.factories import LotFactory, UserFactory
from tests.live.support import raise_one

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def plant_time(site, offset: timedelta) -> str:
    """A datetime-local value in the plant's zone, as the supervisor types it."""
    return timezone.localtime(timezone.now() + offset, zoneinfo.ZoneInfo(site.timezone)).strftime("%Y-%m-%dT%H:%M")


def test_the_live_page_lists_the_sites_open_alarms_with_the_current_cursor(floor):
    open_one = raise_one(floor.site, 1, equipment=floor.machine)
    done = raise_one(floor.site, 2)
    acknowledge_alarm(done.alarm.pk, user=floor.supervisor)
    clear_alarm(done.alarm.pk)
    Alarm.objects.filter(pk=done.alarm.pk).update(state=Alarm.State.CLOSED)
    foreign = raise_one(floor.other_site, 3)
    response = signed_in(floor.supervisor).get("/alarms/")
    assert response.status_code == 200
    initial = [a["id"] for a in response.context["initial"]]
    assert initial == [open_one.alarm.pk]
    assert foreign.alarm.pk not in initial
    assert response.context["cursor"] == latest_event_id(floor.site.pk)
    assert response.context["unacknowledged"] == 1
    assert b'id="alarm-live-config"' in response.content


def test_the_line_filter_shows_that_lines_alarms_only(floor):
    on_line = raise_one(floor.site, 1, line=floor.line)
    raise_one(floor.site, 2, line=floor.other_line)
    response = signed_in(floor.supervisor).get("/alarms/?line=L1")
    assert [a["id"] for a in response.context["initial"]] == [on_line.alarm.pk]
    assert response.context["live_config"]["query"] == "site=S1&line=L1"


def test_the_live_page_needs_the_alarm_permission(floor):
    assert signed_in(floor.outsider).get("/alarms/").status_code == 403


def test_the_live_page_sends_anonymous_users_to_sign_in(floor):
    response = Client().get("/alarms/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_detail_page_tells_the_whole_story(floor):
    from traceability.models import Hold, HoldLot

    raised = raise_one(floor.site, 1, equipment=floor.machine)
    acknowledge_alarm(raised.alarm.pk, user=floor.supervisor, comment="checking the heater band")
    hold = Hold.objects.create(site=floor.site, number="H-0001", reason="barrel zone 2 drift", source="alarm",
                               alarm=raised.alarm, equipment=floor.machine, placed_at=timezone.now(),
                               placed_by="system", window_start=timezone.now() - timedelta(minutes=30))
    HoldLot.objects.create(hold=hold, lot=LotFactory(site=floor.site), via="window")
    response = signed_in(floor.supervisor).get(f"/alarms/{raised.alarm.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "checking the heater band" in page and "supervisor" in page
    assert [e.kind for e in response.context["events"]] == ["raised", "acknowledged"]
    assert response.context["holds"][0]["lots"] == 1
    assert f'href="/holds/{hold.pk}/"' in page
    assert "234.1" in page


def test_the_detail_page_links_the_whole_story(floor):
    raised = raise_one(floor.site, 1, equipment=floor.machine)
    page = signed_in(floor.supervisor).get(f"/alarms/{raised.alarm.pk}/").content.decode()
    assert f'href="/story/alarm/{raised.alarm.pk}/" data-story-link>Whole story</a>' in page


def test_another_sites_alarm_is_not_found(floor):
    foreign = raise_one(floor.other_site, 1)
    assert signed_in(floor.supervisor).get(f"/alarms/{foreign.alarm.pk}/").status_code == 404


def test_acknowledging_from_the_form_records_who_and_redirects(floor):
    raised = raise_one(floor.site, 1)
    response = signed_in(floor.supervisor).post(f"/alarms/{raised.alarm.pk}/acknowledge/",
                                                {"comment": "on my way", "next": "/alarms/"})
    assert response.status_code == 302 and response["Location"] == "/alarms/"
    alarm = Alarm.objects.get(pk=raised.alarm.pk)
    assert (alarm.state, alarm.acknowledged_by, alarm.ack_comment) == ("acknowledged", floor.supervisor, "on my way")


def test_acknowledging_by_fetch_answers_the_snapshot(floor):
    raised = raise_one(floor.site, 1)
    response = signed_in(floor.supervisor).post(f"/alarms/{raised.alarm.pk}/acknowledge/", {},
                                                HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json()["alarm"]["state"] == "acknowledged"


def test_acknowledging_twice_is_a_conflict_with_the_services_code(floor):
    raised = raise_one(floor.site, 1)
    acknowledge_alarm(raised.alarm.pk, user=floor.supervisor)
    response = signed_in(floor.supervisor).post(f"/alarms/{raised.alarm.pk}/acknowledge/", {},
                                                HTTP_ACCEPT="application/json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_acknowledged"


def test_a_second_acknowledgement_from_the_form_shows_the_reason_on_the_page(floor):
    raised = raise_one(floor.site, 1)
    acknowledge_alarm(raised.alarm.pk, user=floor.supervisor)
    response = signed_in(floor.supervisor).post(f"/alarms/{raised.alarm.pk}/acknowledge/", {})
    assert response.status_code == 409
    assert response.context["acknowledge_form"].errors


def test_shelving_into_the_past_is_refused_with_the_field_named(floor):
    raised = raise_one(floor.site, 1)
    past = plant_time(floor.site, -timedelta(hours=1))
    response = signed_in(floor.supervisor).post(f"/alarms/{raised.alarm.pk}/shelve/",
                                                {"reason": "sensor swap", "until": past})
    assert response.status_code == 400
    assert response.context["shelve_form"].errors["until"]
    assert Alarm.objects.get(pk=raised.alarm.pk).shelved_until is None


def test_shelving_then_unshelving(floor):
    raised = raise_one(floor.site, 1)
    client = signed_in(floor.supervisor)
    until = plant_time(floor.site, timedelta(hours=2))
    assert client.post(f"/alarms/{raised.alarm.pk}/shelve/", {"reason": "sensor swap", "until": until}).status_code == 302
    assert Alarm.objects.get(pk=raised.alarm.pk).shelved_reason == "sensor swap"
    assert client.post(f"/alarms/{raised.alarm.pk}/unshelve/", {}).status_code == 302
    assert Alarm.objects.get(pk=raised.alarm.pk).shelved_until is None


def test_clear_then_close(floor):
    raised = raise_one(floor.site, 1)
    client = signed_in(floor.supervisor)
    acknowledge_alarm(raised.alarm.pk, user=floor.supervisor)
    assert client.post(f"/alarms/{raised.alarm.pk}/clear/", {"reason": "back in limits"}).status_code == 302
    assert client.post(f"/alarms/{raised.alarm.pk}/close/", {"comment": "heater band replaced"}).status_code == 302
    assert Alarm.objects.get(pk=raised.alarm.pk).state == "closed"


def test_closing_an_active_alarm_is_refused(floor):
    raised = raise_one(floor.site, 1)
    response = signed_in(floor.supervisor).post(f"/alarms/{raised.alarm.pk}/close/", {},
                                                HTTP_ACCEPT="application/json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "not_cleared"


def test_responding_needs_the_change_permission(floor):
    raised = raise_one(floor.site, 1)
    operator = UserFactory(username="operator", role="operator", sites=[floor.site])
    assert signed_in(operator).post(f"/alarms/{raised.alarm.pk}/acknowledge/", {}).status_code == 403
    assert Alarm.objects.get(pk=raised.alarm.pk).acknowledged_at is None


def test_the_navigation_has_the_alarm_page(floor):
    response = signed_in(floor.supervisor).get("/alarms/")
    assert any(item["url"] == "/alarms/" and item["active"] for item in response.context["nav_items"])


def test_response_times_read_to_the_second_under_an_hour():
    from qms.live.views import response_time

    start = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
    assert response_time(start, start + timedelta(seconds=42)) == "0 min 42 s"
    assert response_time(start, start + timedelta(hours=2, minutes=5)) == "2 h 05 min"
    assert response_time(start, None) is None


def test_the_pages_render_in_chinese(floor):
    raised = raise_one(floor.site, 1, equipment=floor.machine)
    client = signed_in(floor.supervisor)
    client.cookies["django_language"] = "zh-hans"
    assert client.get("/alarms/").status_code == 200
    response = client.get(f"/alarms/{raised.alarm.pk}/")
    assert response.status_code == 200 and 'lang="zh-Hans"' in response.content.decode()
