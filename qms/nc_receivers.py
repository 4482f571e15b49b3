"""Wiring of the nonconformance module, called from QmsConfig.ready(): the NC draft receiver, nav entries, admin."""
from django.utils.translation import gettext_lazy as _


def connect() -> None:
    from qms import nc_admin
    from qms.seams import nc_draft_requested
    from qms.services.nc import receive_nc_draft_request
    from qms.web.navigation import NavItem, register

    nc_admin.register()
    nc_draft_requested.connect(receive_nc_draft_request, dispatch_uid="qms.nc.draft_from_alarm")
    register(NavItem(_("Nonconformances"), "nc-list", "qms.view_nonconformance", 50))
    register(NavItem(_("Defect codes"), "defect-code-list", "qms.view_defectcode", 52))
