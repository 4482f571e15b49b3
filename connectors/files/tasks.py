"""Celery beat task polling the file-drop directories. Queue "periodic": routed by settings.CELERY_TASK_ROUTES and
scheduled by CELERY_BEAT_SCHEDULE. Idempotent by content hash."""
from celery import shared_task

from .service import poll_all_file_drops


@shared_task(acks_late=True, max_retries=0, ignore_result=True)
def poll_file_drops() -> dict[str, int]:
    return poll_all_file_drops()
