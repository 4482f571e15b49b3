"""Celery beat tasks of the alarm lifecycle (queue "periodic"; schedule in settings.CELERY_BEAT_SCHEDULE).

Listed in settings.CELERY_IMPORTS so workers register them. In the embedded default (no Redis, no beat) the
connector runner calls the same functions from connectors.services.run_periodic_jobs.
"""
from celery import shared_task
from django.db import OperationalError

from qms.audit.context import Actor, acting_as
from qms.services.alarms import escalate_overdue_alarms, unshelve_expired_alarms

BEAT_ACTOR = Actor(label="system:alarm-beat")


@shared_task(autoretry_for=(OperationalError,), max_retries=2)
def escalate_overdue() -> int:
    """Escalate unacknowledged alarms whose rule's escalation time has passed (notifies the next level)."""
    with acting_as(BEAT_ACTOR):
        return escalate_overdue_alarms()


@shared_task(autoretry_for=(OperationalError,), max_retries=2)
def unshelve_expired() -> int:
    """Return alarms whose shelving expired to normal announcement."""
    with acting_as(BEAT_ACTOR, reason="shelving expired"):
        return unshelve_expired_alarms()
