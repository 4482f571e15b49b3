"""Request-scoped context: who acts, for the audit trail and for django-simple-history.

Replaces simple_history's HistoryRequestMiddleware: that one hands `request.user` to simple-history, which would
assign a machine client (token) to the `history_user` foreign key and crash every token write of a versioned
model. Here simple-history sees only real Django users; tokens are attributed by the audit chain's actor instead.
"""
from django.contrib.auth.models import AnonymousUser
from simple_history.models import HistoricalRecords

from qms.audit.context import bind_request, unbind_request


class _HistoryRequestView:
    """What simple-history reads from the request: only `user`, and only when it is a Django user."""

    def __init__(self, request):
        self._request = request

    @property
    def user(self):
        user = getattr(self._request, "user", None)
        if user is None or getattr(user, "pk", None) is None:
            return AnonymousUser()
        return user


class ActorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = bind_request(request)
        HistoricalRecords.context.request = _HistoryRequestView(request)
        try:
            return self.get_response(request)
        finally:
            try:
                del HistoricalRecords.context.request
            except AttributeError:
                pass
            unbind_request(token)
