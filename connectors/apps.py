from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

_VIEW = ["connectors.view_connector", "connectors.view_tagmapping", "connectors.view_connectorstatus",
         "connectors.view_writebackcommand"]
_MANAGE = ["connectors.add_connector", "connectors.change_connector", "connectors.delete_connector",
           "connectors.add_tagmapping", "connectors.change_tagmapping", "connectors.delete_tagmapping"]


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = _("MES connectors")

    def ready(self):
        # Connector permissions join the roles (qms.auth.roles installs them after every migrate): everyone reads
        # connector status; quality engineers and admins configure connectors.
        from qms.auth import roles

        for role in roles.ROLES:
            extra = _VIEW + (_MANAGE if role in (roles.QUALITY_ENGINEER, roles.ADMIN) else [])
            permissions = roles.ROLE_PERMISSIONS.setdefault(role, [])
            permissions.extend(p for p in extra if p not in permissions)

        from qms.web.navigation import NavItem, register

        register(NavItem(_("Connectors"), "connector-list", "connectors.view_connector", 60))
