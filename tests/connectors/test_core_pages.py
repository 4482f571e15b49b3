"""Connector pages: status list, detail, create, tag mappings, OPC UA browse-and-map against a real server."""
import asyncio
import threading

import pytest

from connectors.models import Connector, ConnectorStatus
from tests.factories import ConnectorFactory, TagMappingFactory, UserFactory, user_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def engineer_web(engineer):
    return user_client(engineer)


def test_the_list_shows_state_and_counters(engineer_web, site):
    connector = ConnectorFactory(site=site, name="line-1", shadow_mode=True)
    ConnectorStatus.objects.create(connector=connector, state="connected", received=1234, buffered=7)
    html = engineer_web.get("/connectors/").content.decode()
    assert "line-1" in html and "1234" in html and "shadow mode" in html


def test_the_nav_links_the_connectors_page(engineer_web, site):
    assert 'href="/connectors/"' in engineer_web.get("/").content.decode()


def test_the_list_is_in_chinese_for_chinese_users(engineer_web, site):
    response = engineer_web.get("/connectors/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200


def test_an_engineer_creates_a_connector_from_the_form(engineer_web, site):
    response = engineer_web.post("/connectors/new/", {
        "name": "press-2", "kind": "opcua", "enabled": "on", "config": '{"endpoint": "opc.tcp://10.1.1.1:4840/"}',
        "reason": "new press",
    })
    assert response.status_code == 302
    assert Connector.objects.get(name="press-2").config["endpoint"] == "opc.tcp://10.1.1.1:4840/"


def test_bad_config_json_is_shown_on_the_form(engineer_web, site):
    response = engineer_web.post("/connectors/new/", {"name": "x", "kind": "opcua", "config": "{nope", "reason": "r"})
    assert response.status_code == 400
    assert "Not valid JSON" in response.content.decode()


def test_tag_mappings_are_edited_as_lines(engineer_web, characteristic):
    connector = ConnectorFactory(site=characteristic.site)
    response = engineer_web.post(f"/connectors/{connector.pk}/tags/", {
        "tags": f'{characteristic.code} ns=2;s=IMM01/Z2 {{"deadband": 0.5}}', "reason": "map zone 2"})
    assert response.status_code == 302
    assert connector.tags.get().params == {"deadband": 0.5}


def test_an_operator_sees_the_detail_but_cannot_edit(site, characteristic):
    connector = TagMappingFactory(connector=ConnectorFactory(site=site), characteristic=characteristic).connector
    client = user_client(UserFactory(username="op", role="operator", sites=[site]))
    assert client.get(f"/connectors/{connector.pk}/").status_code == 200
    assert client.get(f"/connectors/{connector.pk}/edit/").status_code == 403


def test_browse_and_map_a_node_of_a_real_server(engineer_web, characteristic):
    from connectors.simulator.faces import SimulatorOptions
    from connectors.simulator.opcua_server import OpcUaFace
    from connectors.simulator.plant import SimulatedPlant
    from tests.connectors.protocol_helpers import free_port

    loop = asyncio.new_event_loop()
    face = OpcUaFace(SimulatedPlant(machines=("IMM01",)), SimulatorOptions(opcua_port=free_port()))
    threading.Thread(target=loop.run_forever, daemon=True).start()
    asyncio.run_coroutine_threadsafe(face.start(), loop).result(60)
    try:
        connector = ConnectorFactory(site=characteristic.site, config={"endpoint": face.endpoint})
        node = "ns=2;s=IMM01/TemperatureZones/Barrel/Zone2"
        page = engineer_web.get(f"/connectors/{connector.pk}/browse/", {"node": node}).content.decode()
        response = engineer_web.post(f"/connectors/{connector.pk}/browse/?node={node}", {
            "node_id": f"{node}/ActualValue", "characteristic": characteristic.code, "reason": "picked in browser"})
    finally:
        asyncio.run_coroutine_threadsafe(face.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
    assert "ActualValue" in page and "NominalValue" in page
    assert response.status_code == 302
    assert connector.tags.get().source_ref == f"{node}/ActualValue"


def test_the_admin_lists_connectors_without_their_secrets(site, admin_client):
    connector = ConnectorFactory(site=site, name="adm", secrets={"password": "hidden-pw"})
    page = admin_client.get(f"/admin/connectors/connector/{connector.pk}/change/").content.decode()
    assert "adm" in page and "hidden-pw" not in page
