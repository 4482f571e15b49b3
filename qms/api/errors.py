"""One error body for every API failure: {"error": {"code", "message", "details"}}.

`details` carries DRF's field errors (or per-item problems) so a client can name the offending field or item.
"""
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


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
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, DjangoValidationError):
        # Services raise Django's ValidationError; the API answers 400 with the same field → messages map.
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ApiError):
        response.data = error_body(exc.error_code, exc.detail, exc.details)
        return response
    detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
    if isinstance(detail, (dict, list)):
        code = "validation_error" if isinstance(exc, exceptions.ValidationError) else "invalid"
        message = _summarise(detail)
        response.data = error_body(code, message, detail)
    else:
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        response.data = error_body(str(code), str(detail))
    return response


def _summarise(detail) -> str:
    if isinstance(detail, dict):
        parts = []
        for field, problems in detail.items():
            first = problems[0] if isinstance(problems, list) and problems else problems
            if isinstance(first, dict):
                first = _summarise(first)
            parts.append(f"{field}: {first}")
        return "; ".join(parts) or "Invalid request."
    if isinstance(detail, list) and detail:
        return str(detail[0])
    return "Invalid request."


def bad_request(message: str, details=None, code: str = "invalid") -> Response:
    return Response(error_body(code, message, details), status=status.HTTP_400_BAD_REQUEST)
