"""Django side of the intermediate-table connector: poll one connector's source table into the QMS and keep its
state. Called by the Celery beat task (connectors.table.tasks) and by the embedded runner's periodic jobs."""
from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.db.models import F

from connectors.envelope import Envelope
from connectors.models import Connector, TableSourceState

from .config import layout_from_config, mapping_from_spec, validate_config
from .poll import TablePollResult, poll_table

logger = logging.getLogger(__name__)
RECENT_PROBLEMS = 50


def store_through_ingest(connector: Connector):
    """The store callable the pollers use: the connector layer's idempotent batch store."""
    from connectors import services

    def store(batch_id: str, envelopes: list[Envelope]):
        return services.store_readings(batch_id, [e.to_json() for e in envelopes], connector_id=connector.pk)

    return store


def poll_table_connector(connector: Connector, **poll_options) -> TablePollResult:
    """Poll one intermediate-table connector now. Raises on source or QMS failures (rows then stay pending)."""
    from connectors import services

    config = validate_config(connector.config)
    spec = services.spec_for(connector)
    state, _created = TableSourceState.objects.get_or_create(connector=connector)
    TableSourceState.objects.filter(pk=state.pk).update(last_poll_at=datetime.now(UTC))
    try:
        result = poll_table(
            connector_key=spec.key, url=config["url"], layout=layout_from_config(config),
            mapping=mapping_from_spec(config, spec.tags), store=store_through_ingest(connector),
            password=(connector.secrets or {}).get("password"), batch_size=config["batch_size"],
            max_batches=config["max_batches"], **poll_options,
        )
    except Exception as exc:
        TableSourceState.objects.filter(pk=state.pk).update(last_error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    problems = [e.to_json() for e in result.errors][-RECENT_PROBLEMS:]
    if problems:
        problems = ([*state.recent_problems, *problems])[-RECENT_PROBLEMS:]
    TableSourceState.objects.filter(pk=state.pk).update(
        last_success_at=datetime.now(UTC), last_error="",
        rows_claimed=F("rows_claimed") + result.claimed, rows_acknowledged=F("rows_acknowledged") + result.acknowledged,
        rows_marked_error=F("rows_marked_error") + result.marked_error, stored=F("stored") + result.stored,
        duplicates=F("duplicates") + result.duplicates, rejected=F("rejected") + result.rejected,
        **({"recent_problems": problems} if problems else {}),
    )
    return result


def poll_all_tables() -> dict[str, int]:
    """Poll every enabled intermediate-table connector; one failing source does not stop the others.
    Returns {connector key: rows claimed, or -1 when the poll failed}."""
    summary = {}
    for connector in Connector.objects.select_related("site").filter(kind=Connector.Kind.TABLE, enabled=True):
        key = f"{connector.site.code}/{connector.name}"
        try:
            summary[key] = poll_table_connector(connector).claimed
        except Exception:
            logger.exception("%s: intermediate-table poll failed; rows stay pending for the next poll", key)
            summary[key] = -1
    return summary
