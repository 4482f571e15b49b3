from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SpcConfig(AppConfig):
    name = "spc"
    verbose_name = _("Statistical process control")

    def ready(self):
        from qms.auth.roles import ADMIN, AUDITOR, OPERATOR, QUALITY_ENGINEER, SUPERVISOR, extend_roles
        from qms.web.navigation import NavItem, register
        from qms.web.overview import register_tiles
        from spc import receivers  # noqa: F401  (connects the live evaluation)
        from spc.views import spc_tiles

        read = ["spc.view_chartconfig", "spc.view_limitrevision", "spc.view_signal", "spc.view_chartpoint"]
        extend_roles({
            OPERATOR: read, SUPERVISOR: read, AUDITOR: read, ADMIN: read,
            QUALITY_ENGINEER: [*read, "spc.add_chartconfig", "spc.change_chartconfig", "spc.revise_limits"],
        })
        register(NavItem(_("Control charts"), "spc-overview", "spc.view_chartconfig", 25))
        register_tiles(spc_tiles)
