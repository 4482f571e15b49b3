"""The signed-in user's notifications (alarms, escalations, later NC/CAPA tasks): list, mark read, mark all read.

Personal, not site-scoped: a user of two plants sees both plants' notifications here, each labelled with its site.
"""
from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.generic import ListView, View

from qms.models import Notification
from qms.services.notifications import mark_read


class NotificationListView(LoginRequiredMixin, ListView):
    template_name = "qms/notifications/list.html"
    context_object_name = "notifications"
    paginate_by = 50

    def get_queryset(self):
        notifications = Notification.objects.filter(user=self.request.user).select_related("site")
        if self.request.GET.get("unread") == "1":
            notifications = notifications.filter(read_at__isnull=True)
        return notifications.order_by("-created_at", "-pk")


class NotificationMarkReadView(LoginRequiredMixin, View):
    """POST `notification=<id>` (one, then follow its link when `open=1`) or no id (all unread ones)."""

    def post(self, request):
        raw_id = request.POST.get("notification")
        if raw_id and raw_id.isdigit():
            mark_read(request.user, [int(raw_id)])
            notification = Notification.objects.filter(user=request.user, pk=int(raw_id)).first()
            if request.POST.get("open") == "1" and notification and notification.link and url_has_allowed_host_and_scheme(
                    notification.link, allowed_hosts={request.get_host()}):
                return redirect(notification.link)
        elif not raw_id:
            mark_read(request.user)
        return redirect("notification-list")
