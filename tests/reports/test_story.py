"""The whole-story page: the chain alarm → hold → NC → CAPA found from any of its records, within the user's sites."""
import pytest
from django.test import Client

from qms.models import Alarm
from qms.services.story import collect_story
from tests.factories import EquipmentFactory, LotFactory, UserFactory
from tests.factories_reports import NOW, ReportPlant
from traceability.services.holds import place_hold

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain():
    """alarm → hold (one lot) → NC → CAPA, plus an unrelated NC."""
    plant = ReportPlant()
    machine = EquipmentFactory(code="IMM02", work_center__line__area__site=plant.site, site=plant.site)
    alarm = Alarm.objects.create(site=plant.site, equipment=machine, source_key="test:drift",
                                 alarm_type=Alarm.Type.values[0], severity=Alarm.Severity.values[0],
                                 title="barrel drift", trigger_ts=NOW, raised_at=NOW, last_triggered_at=NOW)
    hold = place_hold(plant.site, reason="drift on IMM02", lots=[LotFactory(site=plant.site, code="LOT-1")],
                      alarm=alarm)
    nc = plant.nc(plant.flash)
    nc.alarm = alarm
    nc.save()
    nc.holds.add(hold)
    plant.nc(plant.scratch)
    capa = plant.capa(days_ago=3)
    capa.nonconformances.add(nc)
    return plant, alarm, hold, nc, capa


@pytest.mark.parametrize("start", ["alarm", "hold", "nc", "capa"])
def test_the_whole_chain_is_found_from_any_record(chain, start):
    plant, alarm, hold, nc, capa = chain
    record = {"alarm": alarm, "hold": hold, "nc": nc, "capa": capa}[start]
    story = collect_story(start, record.pk, {plant.site.pk})
    assert ([a.pk for a in story.alarms], [h.pk for h in story.holds], [n.pk for n in story.ncs],
            [c.pk for c in story.capas]) == ([alarm.pk], [hold.pk], [nc.pk], [capa.pk])
    assert not story.closed


def test_story_page_links_every_record_and_its_history(chain):
    plant, alarm, hold, nc, capa = chain
    client = Client()
    client.force_login(plant.engineer)
    page = client.get(f"/story/nc/{nc.pk}/").content.decode()
    assert f'href="/alarms/{alarm.pk}/"' in page
    assert f'href="/holds/{hold.pk}/"' in page
    assert nc.number in page and capa.number in page
    assert f'href="/capas/{capa.pk}/report/"' in page
    assert "LOT-1" in page
    assert 'class="story-history"' in page
    assert "loop open" in page


def test_auditors_get_the_audit_trail_link(chain):
    plant, _alarm, _hold, nc, _capa = chain
    auditor = UserFactory(username="auditor", role="auditor", sites=[plant.site])
    client = Client()
    client.force_login(auditor)
    page = client.get(f"/story/nc/{nc.pk}/").content.decode()
    assert f"/audit/?model=qms.nonconformance&amp;object_pk={nc.pk}" in page


def test_a_record_of_another_site_is_not_found(chain):
    plant, _alarm, _hold, nc, _capa = chain
    client = Client()
    client.force_login(plant.outsider)
    assert client.get(f"/story/nc/{nc.pk}/").status_code == 404


def test_unknown_kind_is_not_found(chain):
    plant, *_ = chain
    client = Client()
    client.force_login(plant.engineer)
    assert client.get("/story/lot/1/").status_code == 404


def test_story_is_closed_when_its_capas_are(chain):
    plant, _alarm, _hold, nc, capa = chain
    capa.state = capa.State.CLOSED
    capa.save()
    assert collect_story("nc", nc.pk, {plant.site.pk}).closed


def test_story_chain_tag_renders_on_any_page(chain):
    from django.template import Context, Template
    from django.test import RequestFactory

    plant, _alarm, _hold, nc, capa = chain
    request = RequestFactory().get("/")
    request.user = plant.engineer
    html = Template('{% load qp_story %}{% story_chain "capa" pk %}').render(Context({"request": request,
                                                                                       "pk": capa.pk}))
    assert nc.number in html and 'data-start="capa-' in html

