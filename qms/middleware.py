"""Request-scoped context: who acts, for the audit trail."""
from qms.audit.context import actor_for_user, reset_actor, set_actor


class ActorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = set_actor(actor_for_user(getattr(request, "user", None)))
        try:
            return self.get_response(request)
        finally:
            reset_actor(token)
