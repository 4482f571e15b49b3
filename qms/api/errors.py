"""One error body for every API failure: {"error": {"code", "message", "details"}}.

`details` carries DRF's field errors (or per-item problems) so a client can name the offending field or item.
Two layers make it hold everywhere under /api/:
- `exception_handler` (DRF's EXCEPTION_HANDLER) shapes every error a DRF view raises (400…429);
- `ApiErrorMiddleware` rewrites the error responses Django itself produces for /api/ paths — unknown URLs (404),
  plain views, and unhandled exceptions (500, after Django has logged them) — into the same body.
"""
from __future__ import annotations

from http import HTTPStatus

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

API_PREFIX = "/api/"


class ApiError(exceptions.APIException):
    """Raise from services/views with an explicit status, machine-readable code and details."""

    def __init__(self, message: str, *, code: str = "invalid", status_code: int = 400, details=None):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.details = details


def error_body(code: str, message: str, details=None) -> dict:
    body = {"error": {"code": code, "message": str(message)}}
    if details is not None:
        body["error"]["details"] = details
    return body


def exception_handler(exc, context):
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        exc = exceptions.NotFound(str(exc) or _("Not found."))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, DjangoValidationError):
        # Services raise Django's ValidationError; the API answers 400 with the same field → messages map.
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # unexpected: Django logs it and ApiErrorMiddleware answers a JSON 500
    if isinstance(exc, ApiError):
        response.data = error_body(exc.error_code, exc.detail, exc.details)
        return response
    detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
    if isinstance(detail, dict | list):
        code = "validation_error" if isinstance(exc, exceptions.ValidationError) else "invalid"
        response.data = error_body(code, _summarise(detail), detail)
    else:
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        details = None
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            details = {"retry_after": int(exc.wait)}
        response.data = error_body(str(code), str(detail), details)
    return response


def _summarise(detail) -> str:
    if isinstance(detail, dict):
        parts = []
        for field, problems in detail.items():
            first = problems[0] if isinstance(problems, list) and problems else problems
            if isinstance(first, dict):
                first = _summarise(first)
            parts.append(f"{field}: {first}")
        return "; ".join(parts) or _("Invalid request.")
    if isinstance(detail, list) and detail:
        return str(detail[0])
    return _("Invalid request.")


def bad_request(message: str, details=None, code: str = "invalid") -> Response:
    return Response(error_body(code, message, details), status=status.HTTP_400_BAD_REQUEST)


_CODES = {
    400: "bad_request", 401: "not_authenticated", 403: "permission_denied", 404: "not_found",
    405: "method_not_allowed", 406: "not_acceptable", 413: "request_too_large", 415: "unsupported_media_type",
    429: "throttled", 500: "server_error", 502: "bad_gateway", 503: "service_unavailable",
}


def _message_for(request, status_code: int) -> str:
    if status_code == 404:
        return _("No API endpoint at %(path)s.") % {"path": request.path}
    if status_code >= 500:
        return _("Internal server error; it has been logged.")
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return _("Request failed.")


class ApiErrorMiddleware:
    """Turn Django's own error pages for /api/ paths into the API's JSON error body.

    Leaves alone DRF responses (already shaped by `exception_handler`), JSON responses and streaming responses.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code < 400
            or not request.path.startswith(API_PREFIX)
            or getattr(response, "streaming", False)
            or response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        if isinstance(response, Response):
            return self._drf_error_as_json(response)
        details = None
        exc = getattr(request, "_qp_unhandled_exception", None)
        if response.status_code >= 500 and settings.DEBUG and exc is not None:
            details = {"exception": f"{type(exc).__name__}: {exc}"}
        json_response = JsonResponse(
            error_body(_CODES.get(response.status_code, "error"), _message_for(request, response.status_code), details),
            status=response.status_code,
        )
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                json_response[header] = response[header]
        return json_response

    @staticmethod
    def _drf_error_as_json(response: Response):
        """DRF views that render HTML or YAML (the docs pages, the schema) would render their error body in that
        format; the browsable API ("api") keeps its HTML for developers."""
        renderer = getattr(response, "accepted_renderer", None)
        data = response.data if isinstance(response.data, dict) else {}
        if getattr(renderer, "format", "api") == "api" or "error" not in data:
            return response
        # Only the error: TemplateHTMLRenderer adds "status_code" to the data while rendering.
        json_response = JsonResponse({"error": data["error"]}, status=response.status_code)
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                json_response[header] = response[header]
        return json_response

    def process_exception(self, request, exception):
        request._qp_unhandled_exception = exception  # only remembered for the DEBUG details; Django still logs it
        return None
