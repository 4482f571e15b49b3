"""Builds the schema in the outage test's private PostgreSQL and seeds one OPC UA connector with TAGS tags.

    DJANGO_SETTINGS_MODULE=tests.connectors.outage_settings DATABASE_URL=… python -m tests.connectors.outage_setup \
        ENDPOINT TAGS
"""
import sys

import django

django.setup()

from django.core.management import call_command  # noqa: E402

from connectors.models import Connector, TagMapping  # noqa: E402
from qms.models import Area, Characteristic, Equipment, Line, Site, WorkCenter  # noqa: E402


def main(endpoint: str, tags: int) -> None:
    call_command("migrate", "auth", verbosity=0)
    call_command("migrate", run_syncdb=True, verbosity=0)
    site = Site.objects.create(code="S1", name="outage")
    line = Line.objects.create(area=Area.objects.create(site=site, code="A"), code="L")
    machine = Equipment.objects.create(site=site, work_center=WorkCenter.objects.create(line=line, code="W"),
                                       code="IMM01")
    connector = Connector.objects.create(site=site, name="opcua", kind="opcua", config={
        "endpoint": endpoint, "publishing_interval_ms": 100, "sampling_interval_ms": 0, "queue_size": 200,
        "watchdog_s": 5.0, "request_timeout_s": 10.0})
    for n in range(tags):
        characteristic = Characteristic.objects.create(
            site=site, code=f"IMM01.OUTAGE{n:02d}", name_en=f"outage {n}", unit="u", precision=3,
            physical_min=0, physical_max=1000, equipment=machine)
        TagMapping.objects.create(connector=connector, characteristic=characteristic, source_ref=f"ns=2;s=Outage/Tag{n:02d}")
    print("seeded", connector.pk, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
