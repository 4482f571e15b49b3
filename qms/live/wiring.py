"""Called from QmsConfig.ready(): connects the nudge receiver and puts the live alarm page in the navigation."""
from django.utils.translation import gettext_lazy as _


def connect() -> None:
    from qms.live import receivers  # noqa: F401  (connects the alarm_changed → nudge receiver)
    from qms.web.navigation import NavItem, register

    register(NavItem(_("Alarms"), "alarm-live", "qms.view_alarm", 15))
