from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SpcConfig(AppConfig):
    name = "spc"
    verbose_name = _("Statistical process control")
