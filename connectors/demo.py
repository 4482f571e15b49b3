"""The demo connector: an OPC UA connector on the built-in simulator, mapped onto the demo plant's dictionary."""
from __future__ import annotations

from django.db import transaction

from connectors.models import Connector, TagMapping
from qms.audit.context import Actor, acting_as
from qms.models import Characteristic, Site

DEMO_CONNECTOR = "sim-opcua"


def ensure_simulator_connector(site: Site, endpoint: str, *, name: str = DEMO_CONNECTOR,
                               machines: tuple[str, ...] | None = None) -> Connector:
    """Create (or update the endpoint of) the OPC UA connector reading the simulator, with a tag mapping for every
    dictionary characteristic the simulator publishes. Idempotent."""
    from connectors.simulator.opcua_server import tag_node_ids
    from qms.demo import plant as demo

    node_ids = tag_node_ids(machines or demo.MACHINES)
    with acting_as(Actor(label="command:run_demo"), reason="demo connector on the built-in MES simulator"), \
            transaction.atomic():
        connector, created = Connector.objects.get_or_create(
            site=site, name=name,
            defaults={"kind": Connector.Kind.OPCUA, "description": "Built-in MES simulator (OPC UA)",
                      "config": {"endpoint": endpoint, "publishing_interval_ms": 500, "sampling_interval_ms": 250}},
        )
        if not created and connector.config.get("endpoint") != endpoint:
            connector.config = {**connector.config, "endpoint": endpoint}
            connector.save()
        existing = set(connector.tags.values_list("characteristic__code", flat=True))
        for characteristic in Characteristic.objects.filter(site=site, code__in=list(node_ids)):
            if characteristic.code not in existing:
                TagMapping.objects.create(connector=connector, characteristic=characteristic,
                                          source_ref=node_ids[characteristic.code])
    return connector
