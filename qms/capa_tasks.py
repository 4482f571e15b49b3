"""Beat task of the actions (docs/capa.md, "Actions and reminders")."""
from celery import shared_task


@shared_task(name="qms.capa_tasks.escalate_overdue_actions")
def escalate_overdue_actions() -> int:
    from qms.services.actions import escalate_overdue_actions as escalate

    return escalate()
