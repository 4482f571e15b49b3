"""Celery beat task polling the intermediate tables (queue "periodic"). Idempotent: a redelivered or overlapping
run claims only rows still pending (SKIP LOCKED / BEGIN IMMEDIATE), and the store dedupes."""
from celery import shared_task

from .service import poll_all_tables


@shared_task(queue="periodic", acks_late=True, max_retries=0,
             ignore_result=True)
def poll_intermediate_tables() -> dict[str, int]:
    return poll_all_tables()
