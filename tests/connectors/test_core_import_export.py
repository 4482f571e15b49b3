"""`manage.py connectors export` / `import`: round trip, dry run, all-or-nothing on problems."""
import pytest
import yaml
from django.core.management import CommandError, call_command

from connectors.models import Connector
from tests.factories import ConnectorFactory, TagMappingFactory

pytestmark = pytest.mark.django_db


def test_export_then_import_recreates_the_connector_with_its_tags(characteristic, tmp_path):
    TagMappingFactory(connector=ConnectorFactory(site=characteristic.site, name="line1", secrets={"password": "x"}),
                      characteristic=characteristic, source_ref="ns=2;s=IMM01/Z2", params={"deadband": 0.5})
    path = tmp_path / "connectors.yaml"
    call_command("connectors", "export", "--output", str(path))
    document = yaml.safe_load(path.read_text())
    assert document["connectors"][0]["secrets"] == {"password": "********"}
    Connector.objects.all().delete()
    call_command("connectors", "import", str(path), "--reason", "restore")
    connector = Connector.objects.get(name="line1")
    assert [(t.source_ref, t.params) for t in connector.tags.all()] == [("ns=2;s=IMM01/Z2", {"deadband": 0.5})]


def test_a_dry_run_writes_nothing(site, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"connectors": [
        {"site": "S1", "name": "new", "kind": "opcua", "config": {"endpoint": "opc.tcp://h:4840/"}}]}))
    call_command("connectors", "import", str(path), "--dry-run")
    assert not Connector.objects.exists()


def test_one_bad_connector_means_nothing_is_imported(site, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"connectors": [
        {"site": "S1", "name": "good", "kind": "opcua", "config": {"endpoint": "opc.tcp://h:4840/"}},
        {"site": "S1", "name": "bad", "kind": "opcua", "config": {"endpoint": "nope"}},
    ]}))
    with pytest.raises(CommandError):
        call_command("connectors", "import", str(path))
    assert not Connector.objects.exists()
