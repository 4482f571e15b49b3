"""Celery task of live SPC evaluation (queue "evaluate"; in-process in the embedded default).

The task is idempotent: a redelivered batch is recognised per characteristic (spc.services.live) and judged once.
Ordering per characteristic is kept by the state row lock, not by having one worker: any number of workers may
run this queue.
"""
from __future__ import annotations

from datetime import datetime

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from spc.services.live import close_elapsed_windows, evaluate_stored, values_of_batch
from spc.services.subgrouping import Value

QUEUE = "evaluate"

TRANSIENT = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, retry_backoff_max=30,
             max_retries=8, retry_jitter=True)
def evaluate_points(site_id: int, points: dict[str, list]) -> dict:
    """`points`: {characteristic id: [[measurement id, ISO time, value, lot], ...]} (JSON-serialisable): the inline
    form, for points without an ingest batch (dead-letter replays)."""
    values = {
        int(cid): [Value(int(p[0]), datetime.fromisoformat(p[1]), float(p[2]), p[3]) for p in rows]
        for cid, rows in points.items()
    }
    return _summary(evaluate_stored(site_id, values))


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, retry_backoff_max=30,
             max_retries=8, retry_jitter=True)
def evaluate_batch(site_id: int, batch_id: int) -> dict:
    """The new points of ingest batch `batch_id`, read from the database (the message carries only the id). A
    redelivery reads the same rows, so the per-characteristic fingerprint still recognises it."""
    outcomes = evaluate_stored(site_id, values_of_batch(batch_id))
    return _summary(outcomes)


def _summary(outcomes) -> dict:
    return {str(cid): {"points": o.points, "signals": o.signals} for cid, o in outcomes.items()}


@shared_task(acks_late=True, autoretry_for=TRANSIENT, max_retries=2)
def close_time_windows() -> int:
    """Periodic (celery beat, e.g. every 30 s, queue "evaluate"): judge time-window subgroups whose window ended."""
    return close_elapsed_windows(timezone.now())
