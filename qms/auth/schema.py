"""OpenAPI description of the machine-token authentication, so the schema tells integrators how to authenticate."""
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "qms.auth.tokens.BearerTokenAuthentication"
    name = "machineToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Machine token issued by `manage.py create_api_token` or POST /api/v1/tokens/ "
                           "(`Authorization: Bearer qp_…`). Its scopes and site limit what it may do.",
        }
