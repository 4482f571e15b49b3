"""The UI speaks zh-Hans and en: the catalogue is complete, and pages render in Chinese when asked."""
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from tests.service_policy import require_service
from tests.web_support import signed_in

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


@pytest.fixture(scope="module", autouse=True)
def compiled_catalogue():
    """Setup compiles the catalogue; compile it here too when the .mo is missing or older than the .po."""
    compiled = CATALOGUE.with_suffix(".mo")
    if not compiled.exists() or compiled.stat().st_mtime < CATALOGUE.stat().st_mtime:
        call_command("compilemessages", locale=["zh_Hans"], verbosity=0)
        from django.utils.translation import trans_real

        trans_real._translations = {}
        trans_real._default = None


def catalogue():
    return polib.pofile(str(CATALOGUE))


def test_every_entry_of_the_chinese_catalogue_is_translated():
    untranslated = [entry.msgid for entry in catalogue().untranslated_entries() if not entry.obsolete]
    assert untranslated == []


def test_no_entry_of_the_chinese_catalogue_is_fuzzy():
    assert [entry.msgid for entry in catalogue().fuzzy_entries()] == []


def test_placeholders_survive_translation():
    broken = []
    for entry in catalogue().translated_entries():
        translations = entry.msgstr_plural.values() if entry.msgid_plural else [entry.msgstr]
        expected = sorted(_placeholders(entry.msgid_plural or entry.msgid))
        broken += [entry.msgid for text in translations if sorted(_placeholders(text)) != expected]
    assert broken == []


def _placeholders(text: str) -> list[str]:
    import re

    return re.findall(r"%\([a-z_]+\)[sdr]|\{\{ *\w+ *\}\}", text)


@pytest.mark.django_db
def test_sign_in_page_is_chinese_for_a_chinese_browser(client):
    html = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert '<html lang="zh-Hans">' in html
    assert "登录" in html
    assert "Sign in" not in html


@pytest.mark.django_db
def test_pages_are_chinese_for_a_chinese_browser(engineer, characteristic):
    client = signed_in(engineer, language="zh-hans")
    home = client.get(reverse("home")).content.decode()
    dictionary = client.get(reverse("dictionary-list")).content.decode()
    assert "数据字典" in home and "概览" in home
    assert "质量特性" in dictionary and "已放行" in dictionary


@pytest.mark.django_db
def test_chosen_language_sticks_after_switching(engineer):
    client = signed_in(engineer)
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert "退出登录" in client.get(reverse("home")).content.decode()
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert "Sign out" in client.get(reverse("home")).content.decode()


def test_catalogue_passes_msgfmt_check():
    """The same check compilemessages' msgfmt applies: format specifications match between msgid and msgstr."""
    import shutil
    import subprocess

    require_service(shutil.which("msgfmt") is not None, "msgfmt (gettext)")
    result = subprocess.run(["msgfmt", "--check", "-o", "/dev/null", str(CATALOGUE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
