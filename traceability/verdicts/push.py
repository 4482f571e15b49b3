"""Verdict changes pushed to MES so it need not poll: every enabled connector of the lot's site with a
`verdict_push_target` gets one write-back command per changed lot.

Value written: for webhook connectors the JSON object below (inside the webhook's signed envelope
{"connector", "site", "target", "value", "sent_at"}); for OPC UA / Modbus / MQTT the string "<lot>=<verdict>".
    {"lot": "L-0001", "verdict": "hold", "previous": "release", "change": 3, "site": "S1"}
Idempotency key "verdict:<lot id>:<change>": a redelivered change is never queued twice.
"""
from __future__ import annotations

import logging
from dataclasses import asdict

from celery import shared_task
from django.dispatch import receiver

from traceability.seams import VerdictChange, verdicts_changed

logger = logging.getLogger(__name__)


def push_targets(site_id: int):
    from connectors.models import Connector

    return list(Connector.objects.filter(site_id=site_id, enabled=True).exclude(verdict_push_target="")
                .select_related("site"))


def push_value(connector, change: VerdictChange, site_code: str):
    if connector.kind == "webhook":
        return {"lot": change.lot_code, "verdict": change.verdict, "previous": change.previous,
                "change": change.change, "site": site_code}
    return f"{change.lot_code}={change.verdict}"


def idempotency_key(change: VerdictChange) -> str:
    return f"verdict:{change.lot_id}:{change.change}"


@receiver(verdicts_changed, dispatch_uid="verdict-push-to-mes")
def queue_verdict_push(sender, site_id: int, changes: list[VerdictChange], **kwargs) -> None:
    """After commit: hand the changes to the write-back queue (a task: a freeze may change thousands of lots)."""
    if not changes or not push_targets(site_id):
        return
    push_verdict_changes.apply_async(args=[site_id, [asdict(change) for change in changes]], queue="writeback")


@shared_task(acks_late=True)
def push_verdict_changes(site_id: int, changes: list[dict]) -> int:
    """Queue one write-back command per (connector, changed lot); safe to run twice (idempotency keys)."""
    from connectors.writeback import queue_writeback

    queued = 0
    for connector in push_targets(site_id):
        for data in changes:
            change = VerdictChange(**data)
            previous = change.previous or "-"
            queue_writeback(connector, connector.verdict_push_target, push_value(connector, change,
                                                                                 connector.site.code),
                            reason=f"verdict of lot {change.lot_code}: {previous} → {change.verdict}",
                            idempotency_key=idempotency_key(change), requested_by="verdict push")
            queued += 1
    return queued
