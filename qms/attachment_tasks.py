"""Beat task of the attachments (docs/nonconformance.md, "Attachments"; schedule in settings.CELERY_BEAT_SCHEDULE)."""
from celery import shared_task


@shared_task(name="qms.attachment_tasks.sweep_orphan_attachments")
def sweep_orphan_attachments() -> int:
    """Remove attachment files whose record never committed (an enclosing transaction rolled back)."""
    from qms.services.attachments import sweep_orphan_files

    return len(sweep_orphan_files())
