"""Celery beat task polling the file-drop directories (queue "periodic"). Idempotent by content hash."""
from celery import shared_task

from .service import poll_all_file_drops


@shared_task(queue="periodic", acks_late=True, max_retries=0, ignore_result=True)
def poll_file_drops() -> dict[str, int]:
    return poll_all_file_drops()
