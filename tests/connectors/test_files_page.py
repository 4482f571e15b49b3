"""The file-import page: preview shows rows and problems and stores nothing; import stores once; roles apply."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from connectors.models import ImportedFile
from qms.models import Measurement
from tests.connectors.test_files_import import CONFIG, gbk_file
from tests.factories import CharacteristicFactory, ConnectorFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def connector(site):
    CharacteristicFactory(site=site, code="IMM01.BARREL_Z2.TEMP")
    CharacteristicFactory(site=site, code="IMM01.CUSHION", physical_min=0, physical_max=100, lsl=None, usl=None,
                          nominal=None)
    return ConnectorFactory(site=site, name="legacy-export", kind="file", config=CONFIG)


@pytest.fixture
def engineer_browser(client, engineer):
    client.force_login(engineer)
    return client


def url(connector):
    return f"/connectors/{connector.pk}/imports/"


def test_preview_then_import(engineer_browser, connector):
    preview = engineer_browser.post(url(connector), {"action": "preview",
                                                     "file": SimpleUploadedFile("line1.csv", gbk_file())})
    page = preview.content.decode()
    assert preview.status_code == 200
    assert "not a number: &#x27;abc&#x27;" in page and "IMM01.BARREL_Z2.TEMP = 231.5" in page
    assert Measurement.objects.count() == 0
    sha = preview.context["pending_sha"]
    done = engineer_browser.post(url(connector), {"action": "import", "sha256": sha, "filename": "line1.csv"},
                                 follow=True)
    assert "5 measurements stored" in done.content.decode()
    assert Measurement.objects.count() == 5
    assert ImportedFile.objects.get().imported_by.username == "engineer"


def test_an_unreadable_file_says_why(engineer_browser, connector):
    response = engineer_browser.post(url(connector), {"action": "preview",
                                                      "file": SimpleUploadedFile("x.dbf", b"nope")})
    assert "not a readable .dbf" in response.content.decode()


def test_an_operator_may_not_import(client, connector, site):
    operator = UserFactory(username="op", role="operator", sites=[site])
    client.force_login(operator)
    assert client.get(url(connector)).status_code == 403


def test_the_detail_page_of_a_file_connector_links_its_imports(engineer_browser, connector):
    page = engineer_browser.get(f"/connectors/{connector.pk}/").content.decode()
    assert f'href="{url(connector)}"' in page


def test_other_kinds_have_no_imports_link(engineer_browser, site):
    opcua = ConnectorFactory(site=site, name="opc", kind="opcua")
    page = engineer_browser.get(f"/connectors/{opcua.pk}/").content.decode()
    assert "/imports/" not in page


def test_a_role_without_imports_gets_no_link(client, connector, site):
    client.force_login(UserFactory(username="op", role="operator", sites=[site]))
    page = client.get(f"/connectors/{connector.pk}/")
    assert page.status_code == 200
    assert url(connector) not in page.content.decode()


def test_page_and_api_names_reverse_apart(connector):
    assert reverse("connector-imports", kwargs={"pk": connector.pk}) == url(connector)
    assert reverse("connector-imports-api", kwargs={"connector_id": connector.pk}) == (
        f"/api/v1/connectors/{connector.pk}/imports/")
