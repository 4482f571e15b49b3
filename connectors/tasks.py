"""Celery tasks of the connector layer — the work that finishes (the never-ending protocol sessions live in the
runner, not in a task: a task that never ends is redelivered after the visibility timeout and duplicates the
listener). Queues: ingest, periodic, writeback (routes in settings.CELERY_TASK_ROUTES).

Every task is idempotent, `acks_late` with reject-on-worker-lost (settings), with bounded retries.
"""
from __future__ import annotations

import time
from dataclasses import asdict

from celery import shared_task
from django.db import DatabaseError, InterfaceError, OperationalError

from connectors import services

# Celery's autodiscovery imports only `<app>.tasks`: importing the protocol kinds' beat tasks here registers them
# with the worker (their routes and schedules are in settings).
from connectors.files.tasks import poll_file_drops  # noqa: F401
from connectors.table.tasks import poll_intermediate_tables  # noqa: F401

TRANSIENT = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


@shared_task(bind=True, acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, retry_backoff_max=60,
             max_retries=8, retry_jitter=True)
def ingest_readings(self, batch_id: str, envelopes: list[dict], connector_id: int | None = None) -> dict:
    """Store one outbox batch (idempotent on batch_id: a redelivery or resend stores nothing twice)."""
    return asdict(services.store_readings(batch_id, envelopes, connector_id=connector_id))


@shared_task(acks_late=True, autoretry_for=(DatabaseError, *TRANSIENT), max_retries=2)
def watch_staleness() -> int:
    """Raise data_stale for tags silent for more than 3 × their update period. Returns how many went stale."""
    return len(services.check_staleness())


@shared_task(bind=True, acks_late=True, max_retries=10, autoretry_for=TRANSIENT, retry_backoff=True)
def execute_writeback(self, command_id: int) -> str:
    """One attempt of a write-back command; retried with exponential backoff until confirmed or failed."""
    from connectors.writeback import attempt_writeback

    status, retry_in = attempt_writeback(command_id)
    if retry_in is not None and self.request.is_eager:
        # In-process (embedded default) there is no broker to hold a delayed retry: retry here, briefly; the
        # attempt counter bounds it.
        while retry_in is not None:
            time.sleep(min(retry_in, 0.2))
            status, retry_in = attempt_writeback(command_id)
        return status
    if retry_in is not None:
        raise self.retry(countdown=retry_in)
    return status
