from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TraceabilityConfig(AppConfig):
    name = "traceability"
    verbose_name = _("Traceability")

    def ready(self):
        # Receivers and tasks only (no database access here): the MES verdict push listens on verdicts_changed.
        from traceability import holds_views
        from traceability.trace_views import register_navigation
        from traceability.verdicts import push, write_through  # noqa: F401  (Celery tasks)

        register_navigation()
        holds_views.register_navigation()
