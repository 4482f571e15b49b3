"""API permission: authenticated always; machine tokens need the view's scope; users need model permissions.

Views declare what a machine token needs per HTTP method in `token_scopes`, e.g.
`token_scopes = {"GET": "ingest", "POST": "ingest"}`; `ANY_TOKEN` lets every token of the site in (reading the
data dictionary). A method missing from the map is closed to tokens: deny by default.
Users need the Django permission(s) a view lists in `user_perms` for the method, or, by default for writes, the
model's add/change/delete permission.
"""
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework.permissions import SAFE_METHODS, BasePermission

from qms.auth.tokens import MachineClient

ANY_TOKEN = "*"

_MODEL_PERMS = {
    "POST": "{app}.add_{model}",
    "PUT": "{app}.change_{model}",
    "PATCH": "{app}.change_{model}",
    "DELETE": "{app}.delete_{model}",
}


def request_token(request):
    user = getattr(request, "user", None)
    return user.token if isinstance(user, MachineClient) else None


class HasRequiredScope(BasePermission):
    message = gettext_lazy("You do not have permission to perform this action.")
    code = "permission_denied"

    def has_permission(self, request, view):
        user = request.user
        if not user or not user.is_authenticated:
            return False
        token = request_token(request)
        if token is not None:
            scope = getattr(view, "token_scopes", {}).get(request.method)
            if request.method == "HEAD":
                scope = getattr(view, "token_scopes", {}).get("GET", scope)
            if scope is None:
                self.message, self.code = _("Machine tokens cannot use this endpoint."), "token_not_allowed"
                return False
            if scope != ANY_TOKEN and not token.has_scope(scope):
                self.message = _("This token lacks the '%(scope)s' scope.") % {"scope": scope}
                self.code = "missing_scope"
                return False
            return True
        perms = self._user_perms(request, view)
        if perms and not user.has_perms(perms):
            self.message, self.code = _("Your role does not allow this action."), "role_forbidden"
            return False
        return True

    def _user_perms(self, request, view) -> list[str]:
        declared = getattr(view, "user_perms", None)
        if declared is not None and request.method in declared:
            value = declared[request.method]
            return [value] if isinstance(value, str) else list(value)
        if request.method in SAFE_METHODS:
            return []
        queryset = getattr(view, "queryset", None)
        model = queryset.model if queryset is not None else None
        template = _MODEL_PERMS.get(request.method)
        if model is None or template is None:
            return []
        return [template.format(app=model._meta.app_label, model=model._meta.model_name)]
