"""Celery beat task polling the intermediate tables. Queue "periodic": routed by settings.CELERY_TASK_ROUTES and
scheduled by CELERY_BEAT_SCHEDULE. Idempotent: a redelivered or overlapping run claims only rows still pending
(SKIP LOCKED / BEGIN IMMEDIATE), and the store dedupes."""
from celery import shared_task

from .service import poll_all_tables


@shared_task(acks_late=True, max_retries=0, ignore_result=True)
def poll_intermediate_tables() -> dict[str, int]:
    return poll_all_tables()
