"""Building a runner wired to the database, shared by `run_connectors` and `run_demo`."""
from __future__ import annotations

from pathlib import Path

from django.conf import settings

from connectors import services
from connectors.outbox import Outbox
from connectors.runner import Runner, RunnerSettings


def outbox_path(group: str = "") -> Path:
    return Path(settings.VAR_DIR) / "outbox" / f"runner-{group or 'default'}.sqlite3"


def build_runner(group: str = "", *, outbox: str | Path | None = None, runner_settings: RunnerSettings | None = None,
                 name: str | None = None) -> Runner:
    runner_settings = runner_settings or RunnerSettings()
    if settings.CELERY_TASK_ALWAYS_EAGER and not runner_settings.periodic:
        # Embedded default: no Celery beat, so the runner hosts the periodic jobs itself.
        from qms.attachment_tasks import sweep_orphan_attachments

        runner_settings.periodic.append((5.0, services.run_periodic_jobs))
        runner_settings.periodic.append((3600.0, sweep_orphan_attachments))
    return Runner(
        Outbox(outbox or outbox_path(group)), services.DjangoRunnerBackend(group), runner_settings, name=name,
    )
