"""Alarm titles are stored language-neutral (message id + parameters) with the English rendering as the fallback, and
rendered in each reader's language — whatever language the request that raised the alarm had active."""
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from django.utils import translation
from django.utils.translation import trans_real
from rest_framework.test import APIClient

from qms.live.consumers import language_of
from qms.services import alarm_text
from qms.services.alarms import alarm_snapshot
from qms.services.reactions import describe, describe_text
from tests.factories import UserFactory
from tests.factories_alarms import raise_test_alarm

CHINESE = "%(subject)s：%(value)s%(unit)s 偏离标称值 %(nominal)s 超过 ±%(threshold)s"


@pytest.fixture
def chinese_catalogue():
    """A zh-Hans translation of the deviation title (the lead translates the real catalogue at the end)."""
    merged = trans_real.translation("zh-hans")._catalog
    # Django's merged catalogue reads its dicts in order and supports no deletion: patch the first dict itself.
    catalogue = merged._catalogs[0] if hasattr(merged, "_catalogs") else merged
    before = catalogue.get(alarm_text.DEVIATION)
    catalogue[alarm_text.DEVIATION] = CHINESE
    yield
    if before is None:
        del catalogue[alarm_text.DEVIATION]
    else:
        catalogue[alarm_text.DEVIATION] = before


def barrel_trigger():
    return SimpleNamespace(alarm_type="deviation", value=214.0, count=1, ts=datetime(2026, 11, 28, 8, tzinfo=UTC),
                           evidence={"nominal": 210.0, "threshold": 3.0})


def barrel_text():
    characteristic = SimpleNamespace(code="IMM02.BARREL_Z2.TEMP", unit="°C")
    return describe_text(SimpleNamespace(name="IMM02 ±3"), barrel_trigger(), characteristic, None)


def test_a_rule_raising_under_chinese_stores_the_english_title(chinese_catalogue):
    characteristic = SimpleNamespace(code="IMM02.BARREL_Z2.TEMP", unit="°C")
    with translation.override("zh-hans"):
        title, _message = describe(SimpleNamespace(name="IMM02 ±3"), barrel_trigger(), characteristic, None)
    assert title == "IMM02.BARREL_Z2.TEMP: 214 °C deviates from nominal 210 by more than ±3"


def test_the_stored_text_renders_in_the_readers_language(chinese_catalogue):
    entry = barrel_text()["title"]
    with translation.override("zh-hans"):
        assert alarm_text.render(entry) == "IMM02.BARREL_Z2.TEMP：214 °C 偏离标称值 210 超过 ±3"
    with translation.override("en"):
        assert alarm_text.render(entry).startswith("IMM02.BARREL_Z2.TEMP: 214 °C deviates")


def test_an_unknown_message_id_falls_back_to_the_stored_title():
    assert alarm_text.render({"msgid": "%(x)s injected", "params": {"x": 1}}, "stored") == "stored"


@pytest.mark.django_db
def test_snapshot_and_api_render_per_request(site, chinese_catalogue):
    text = barrel_text()
    alarm = raise_test_alarm(site, title=alarm_text.render_english(text["title"]), evidence={"text": text}).alarm
    with translation.override("zh-hans"):
        assert alarm_snapshot(alarm)["title"].endswith("偏离标称值 210 超过 ±3")
    client = APIClient()
    client.force_authenticate(UserFactory(username="supervisor", role="supervisor", sites=[site]))

    chinese = client.get(f"/api/v1/alarms/{alarm.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    english = client.get(f"/api/v1/alarms/{alarm.pk}/", HTTP_ACCEPT_LANGUAGE="en").json()

    assert chinese["title"].endswith("偏离标称值 210 超过 ±3") and chinese["events"][0]["snapshot"]["title"] == \
        chinese["title"]
    assert english["title"] == alarm.title


@pytest.mark.parametrize(("scope", "language"), [
    ({"cookies": {"django_language": "zh-hans"}, "headers": []}, "zh-hans"),
    ({"cookies": {}, "headers": [(b"accept-language", b"zh-CN,zh;q=0.9,en;q=0.5")]}, "zh-hans"),
    ({"cookies": {}, "headers": [(b"accept-language", b"fr")]}, "en"),
])
def test_the_live_socket_renders_in_the_pages_language(scope, language, settings):
    settings.LANGUAGE_CODE = "en"
    assert language_of(scope) == language
