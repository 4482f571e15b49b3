"""The main navigation. Later issues add their pages with `register(NavItem(...))` from their AppConfig.ready()."""
from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    permission: str | None = None
    order: int = 100


_ITEMS: list[NavItem] = [
    NavItem(_("Overview"), "home", None, 10),
    NavItem(_("Data dictionary"), "dictionary-list", "qms.view_characteristic", 20),
    NavItem(_("Dead letters"), "dead-letter-list", "qms.view_deadletter", 30),
    NavItem(_("Audit trail"), "audit-list", "qms.view_auditentry", 80),
    NavItem(_("API tokens"), "token-list", "qms.add_apitoken", 90),
]


def register(item: NavItem) -> None:
    if all(existing.url_name != item.url_name for existing in _ITEMS):
        _ITEMS.append(item)


def visible_items(request) -> list[dict]:
    """The entries this user may open, with the one for the current page marked active."""
    user = request.user
    items = []
    for item in sorted(_ITEMS, key=lambda i: i.order):
        if item.permission and not user.has_perm(item.permission):
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        active = request.path == url if url == "/" else request.path.startswith(url)
        items.append({"label": item.label, "url": url, "active": active})
    return items
