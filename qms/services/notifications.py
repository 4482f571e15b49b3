"""In-app notifications (alarms, escalations, later NC/CAPA tasks), e-mailed too when e-mail is configured.

Only members of the notification's site receive it: a group may span plants, an alarm of plant S1 is nobody's
business in S2 (superusers see every site, so they receive every site's notifications of their groups too).
E-mail goes out after the commit (never for a rolled-back change) and only when settings.EMAIL_HOST is set; a mail
server that is down is logged, it never fails the transition that notified.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from qms.models import Notification

logger = logging.getLogger(__name__)

_TITLE_MAX = Notification._meta.get_field("title").max_length
_LINK_MAX = Notification._meta.get_field("link").max_length
_KIND_MAX = Notification._meta.get_field("kind").max_length


def _site_members(users_queryset, site):
    if site is None:
        return users_queryset
    return users_queryset.filter(Q(site_memberships__site=site) | Q(is_superuser=True))


def notify_groups(groups, *, site, kind: str, title: str, body: str = "", link: str = "") -> int:
    """One in-app notification per active member of `groups` who belongs to `site`. Returns how many."""
    group_ids = [getattr(group, "pk", group) for group in groups]
    if not group_ids:
        return 0
    users = _site_members(get_user_model().objects.filter(groups__in=group_ids, is_active=True), site).distinct()
    return _notify(users, site=site, kind=kind, title=title, body=body, link=link)


def notify_users(users: Iterable, *, site, kind: str, title: str, body: str = "", link: str = "") -> int:
    """One in-app notification per given active user who belongs to `site`. Returns how many."""
    user_ids = [getattr(user, "pk", user) for user in users]
    if not user_ids:
        return 0
    members = _site_members(get_user_model().objects.filter(pk__in=user_ids, is_active=True), site).distinct()
    return _notify(members, site=site, kind=kind, title=title, body=body, link=link)


def _notify(users, *, site, kind, title, body, link) -> int:
    recipients = list(users.order_by("pk"))
    if not recipients:
        return 0
    title = str(title)[:_TITLE_MAX]
    created = Notification.objects.bulk_create([
        Notification(user=user, site=site, kind=kind[:_KIND_MAX], title=title, body=str(body), link=link[:_LINK_MAX])
        for user in recipients
    ])
    if email_enabled():
        with_address = [(n.pk, n.user.email) for n in created if n.user.email]
        if with_address:
            transaction.on_commit(lambda: _send_emails(with_address, title, str(body), link))
    return len(created)


def email_enabled() -> bool:
    return bool(getattr(settings, "EMAIL_HOST", ""))


def _send_emails(recipients: list[tuple[int, str]], subject: str, body: str, link: str) -> None:
    text = f"{body}\n\n{link}" if link else body
    sent_ids = []
    for notification_id, address in recipients:
        try:
            if send_mail(subject, text, None, [address], fail_silently=False):
                sent_ids.append(notification_id)
        except Exception:  # any mail failure: log it, the in-app notification stands
            logger.warning("notification %s: e-mail to %s failed", notification_id, address, exc_info=True)
    if sent_ids:
        Notification.objects.filter(pk__in=sent_ids).update(emailed_at=timezone.now())


def unread_count(user) -> int:
    if user is None or not getattr(user, "is_authenticated", False) or getattr(user, "pk", None) is None:
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def mark_read(user, notification_ids=None, *, now=None) -> int:
    """Mark the user's notifications read (all unread ones when ids is None). Others' notifications are never
    touched. Returns how many changed."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if notification_ids is not None:
        unread = unread.filter(pk__in=list(notification_ids))
    return unread.update(read_at=now or timezone.now())
