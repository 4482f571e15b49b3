"""Small helpers shared by the admin management commands."""
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from qms.models import Site


def get_site(code: str) -> Site:
    site = Site.objects.filter(code=code).first()
    if site is None:
        known = ", ".join(Site.objects.order_by("code").values_list("code", flat=True)) or "none yet"
        raise CommandError(f"Unknown site {code!r} (known sites: {known}).")
    return site


def get_sites(codes: str) -> list[Site]:
    wanted = [code.strip() for code in codes.split(",") if code.strip()]
    if not wanted:
        raise CommandError("Name at least one site.")
    return [get_site(code) for code in wanted]


def validation_message(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items())
    return " ".join(exc.messages)
