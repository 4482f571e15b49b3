"""Rate limits for machine clients, per token (users are not throttled: they are few and interactive)."""
from rest_framework.throttling import SimpleRateThrottle

from qms.auth.permissions import request_token


class MachineClientThrottle(SimpleRateThrottle):
    scope = "machine"

    def get_cache_key(self, request, view):
        token = request_token(request)
        if token is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": token.pk}
