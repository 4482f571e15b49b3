from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QmsConfig(AppConfig):
    name = "qms"
    verbose_name = _("Quality management")

    def ready(self):
        from django.db.models.signals import post_migrate

        from qms import nc_receivers, reaction_receivers
        from qms.audit import receivers  # noqa: F401  (connects the history → audit-chain receiver)
        from qms.auth.roles import ensure_roles
        from qms.live import wiring as live_alarm_pages
        from qms.web import alarm_tiles
        from qms.web.navigation import NavItem, register

        # Without a sender: permissions of apps migrated after qms must exist before the groups are filled.
        post_migrate.connect(ensure_roles, dispatch_uid="qms.ensure_roles")
        live_alarm_pages.connect()
        reaction_receivers.connect()
        nc_receivers.connect()
        alarm_tiles.connect()
        register(NavItem(_("Reaction rules"), "rule-list", "qms.view_reactionrule", 45))
        register(NavItem(_("8D CAPA"), "capa-list", "qms.view_capa", 55))
        register(NavItem(_("My tasks"), "task-list", "qms.view_action", 56))
        register(NavItem(_("Reports"), "report-pareto", "qms.view_nonconformance", 75))
