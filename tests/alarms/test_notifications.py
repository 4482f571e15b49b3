"""Notifications: only members of the site, e-mail on commit when configured, mark read, the inbox page."""
import pytest
from django.contrib.auth.models import Group
from django.core import mail

from qms.models import Notification
from qms.services.notifications import mark_read, notify_groups, notify_users, unread_count
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def leads(site, other_site):
    group = Group.objects.create(name="shift leads")
    for name, sites in (("here", [site]), ("there", [other_site]), ("both", [site, other_site])):
        UserFactory(username=name, sites=sites, email=f"{name}@example.com").groups.add(group)
    return group


def recipients():
    return sorted(Notification.objects.values_list("user__username", flat=True))


def test_group_members_of_other_sites_are_not_notified(site, leads):
    assert notify_groups([leads], site=site, kind="alarm", title="Z2 high") == 2
    assert recipients() == ["both", "here"]


def test_inactive_members_are_not_notified(site, leads):
    type(leads.user_set.first()).objects.filter(username="here").update(is_active=False)
    notify_groups([leads], site=site, kind="alarm", title="Z2 high")
    assert recipients() == ["both"]


def test_notify_users_filters_by_site(site, other_site, leads):
    users = list(leads.user_set.all())
    assert notify_users(users, site=other_site, kind="task", title="Review") == 2
    assert recipients() == ["both", "there"]


def test_no_email_without_a_mail_server(site, leads, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_HOST = ""
    with django_capture_on_commit_callbacks(execute=True):
        notify_groups([leads], site=site, kind="alarm", title="Z2 high")
    assert mail.outbox == []


def test_email_after_commit_when_configured(site, leads, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_HOST = "mail.example.com"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notify_groups([leads], site=site, kind="alarm", title="Z2 high", body="IMM01", link="/alarms/1/")
    assert mail.outbox == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert sorted(m.to[0] for m in mail.outbox) == ["both@example.com", "here@example.com"]
    assert Notification.objects.filter(emailed_at__isnull=False).count() == 2


def test_mail_failure_is_logged_not_raised(site, leads, settings, django_capture_on_commit_callbacks, caplog,
                                           monkeypatch):
    settings.EMAIL_HOST = "mail.example.com"

    def broken(*args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr("qms.services.notifications.send_mail", broken)
    with django_capture_on_commit_callbacks(execute=True):
        notify_groups([leads], site=site, kind="alarm", title="Z2 high")
    assert Notification.objects.count() == 2 and "e-mail" in caplog.text


def test_mark_read_touches_only_the_users_own(site, leads):
    notify_groups([leads], site=site, kind="alarm", title="Z2 high")
    here = leads.user_set.get(username="here")
    both = leads.user_set.get(username="both")
    theirs = Notification.objects.get(user=both)
    assert mark_read(here, [theirs.pk]) == 0
    assert mark_read(here) == 1
    assert unread_count(here) == 0 and unread_count(both) == 1


def test_inbox_page_lists_and_marks_all_read(client, site, leads):
    notify_groups([leads], site=site, kind="alarm", title="Barrel zone 2 high")
    here = leads.user_set.get(username="here")
    client.force_login(here)
    page = client.get("/notifications/")
    assert page.status_code == 200 and "Barrel zone 2 high" in page.content.decode()
    assert page.context["unread_notifications"] == 1
    client.post("/notifications/read/")
    assert unread_count(here) == 0


def test_open_marks_read_and_follows_the_link(client, site, leads):
    notify_groups([leads], site=site, kind="alarm", title="Z2", link="/alarms/5/")
    here = leads.user_set.get(username="here")
    note = Notification.objects.get(user=here)
    client.force_login(here)
    response = client.post("/notifications/read/", {"notification": note.pk, "open": "1"})
    assert response.status_code == 302 and response["Location"] == "/alarms/5/"
    note.refresh_from_db()
    assert note.read_at is not None


def test_inbox_needs_sign_in(client):
    assert client.get("/notifications/").status_code == 302
