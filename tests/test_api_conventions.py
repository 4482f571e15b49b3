"""API conventions that hold for every area: nothing answers anonymously, one error body everywhere (DRF errors,
Django's own 404/500 under /api/), throttling of machine clients, pagination, offline docs behind a login, and a
clean `check --deploy`."""
import os
import re
import secrets
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.test import override_settings
from django.urls import include, path
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from qms.auth.permissions import ANY_TOKEN
from tests.api_walk import iter_endpoints
from tests.factories import UserFactory, make_token

METHODS = ("get", "post", "put", "patch", "delete", "options")


class BoomView(APIView):
    token_scopes = {"GET": ANY_TOKEN}
    user_perms = {"GET": []}

    def get(self, request):
        raise RuntimeError("boom")


class PingView(APIView):
    token_scopes = {"GET": ANY_TOKEN}
    user_perms = {"GET": []}

    def get(self, request):
        return Response({"pong": True})


def plain_boom(request):
    raise RuntimeError("plain boom")


def plain_teapot(request):
    return HttpResponse("<h1>I am a teapot</h1>", status=418)


test_urlpatterns = [
    path("api/v1/test-boom/", BoomView.as_view()),
    path("api/v1/test-ping/", PingView.as_view()),
    path("api/v1/test-plain-boom/", plain_boom),
    path("api/v1/test-plain-teapot/", plain_teapot),
]
urlpatterns = [*test_urlpatterns, path("", include("qms.urls"))]
pytestmark = pytest.mark.urls(__name__)


@pytest.fixture
def user_client(site):
    client = APIClient()
    client.force_login(UserFactory(username="admin1", role="admin", sites=[site]))
    return client


def _is_error_body(response, code: str | None = None) -> bool:
    body = response.json()
    ok = set(body) == {"error"} and {"code", "message"} <= set(body["error"]) and body["error"]["message"]
    return bool(ok) and (code is None or body["error"]["code"] == code)


# --- nothing answers anonymously --------------------------------------------------------------------------------------

ENDPOINTS = list(iter_endpoints("api/v1/"))


def test_the_walk_finds_the_endpoints():
    routes = {endpoint.route for endpoint in ENDPOINTS}
    assert {"api/v1/tokens/", "api/v1/tokens/<pk>/revoke/", "api/v1/audit/", "api/v1/audit/export/"} <= routes
    unsampled = [endpoint.route for endpoint in ENDPOINTS if endpoint.sample() is None]
    assert unsampled == [], "these URL patterns cannot be sampled by tests/api_walk.py: extend it"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda endpoint: endpoint.route)
def test_no_endpoint_answers_anonymously(db, endpoint):
    client = APIClient()
    sample = endpoint.sample()
    for method in METHODS:
        response = getattr(client, method)(sample)
        assert response.status_code in (401, 403), f"{method.upper()} {sample} answered {response.status_code}"
        assert _is_error_body(response), f"{method.upper()} {sample}: {response.content[:200]!r}"


def test_anonymous_gets_401_with_a_bearer_challenge(db):
    response = APIClient().get("/api/v1/tokens/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert _is_error_body(response, "not_authenticated")


# --- schema and docs: signed-in users (and tokens) only, every asset local ------------------------------------------

DOC_PAGES = ("/api/docs/", "/api/redoc/")


@pytest.mark.parametrize("url", ["/api/schema/", *DOC_PAGES])
def test_schema_and_docs_refuse_anonymous(db, url):
    response = APIClient().get(url)
    assert response.status_code == 401
    assert _is_error_body(response, "not_authenticated")


@pytest.mark.parametrize("url", ["/api/schema/", *DOC_PAGES])
def test_schema_and_docs_serve_signed_in_users(user_client, url):
    assert user_client.get(url).status_code == 200


def test_machine_tokens_may_read_the_schema(site):
    _token, raw = make_token(site, scopes=())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/v1/tokens/" in response.content


def test_schema_documents_bearer_tokens(user_client):
    scheme = user_client.get("/api/schema/?format=json").json()["components"]["securitySchemes"]["machineToken"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")


class _Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


@pytest.mark.parametrize("url", DOC_PAGES)
def test_docs_pages_reference_only_local_static_assets(user_client, url):
    html = user_client.get(url).content.decode()
    parser = _Assets()
    parser.feed(html)
    assert parser.urls, "no assets found: the page layout changed"
    for asset in parser.urls:
        assert asset.startswith(settings.STATIC_URL if settings.STATIC_URL.startswith("/") else "/" + settings.STATIC_URL)
        assert finders.find(asset.split("/static/", 1)[1]), f"{asset} is not shipped"
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html)
    assert "fonts.googleapis" not in html and "cdn" not in html.lower()


def test_swagger_ui_does_not_call_the_online_validator(user_client):
    html = user_client.get("/api/docs/").content.decode()
    assert '"validatorUrl": null' in html


# --- one error body everywhere -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/v1/nope", "/api/v1/nope/", "/api/nope/"])
def test_unknown_api_path_is_a_json_404(user_client, url):
    response = user_client.get(url)
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": f"No API endpoint at {url}."}}


def test_unknown_api_path_is_a_json_404_for_anonymous_too(db):
    response = APIClient().get("/api/v1/nope/")
    assert response.status_code == 404 and _is_error_body(response, "not_found")


def test_pages_outside_the_api_keep_their_html_404(user_client):
    response = user_client.get("/no-such-page/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_drf_404(user_client):
    response = user_client.get("/api/v1/tokens/999999/")
    assert response.status_code == 404 and _is_error_body(response, "not_found")


def test_drf_405_keeps_the_allow_header(db):
    client = APIClient()
    client.force_login(UserFactory(username="root", is_superuser=True))  # permitted, so the method is what fails
    response = client.delete("/api/v1/tokens/")
    assert response.status_code == 405 and _is_error_body(response, "method_not_allowed")
    assert "POST" in response["Allow"]


def test_drf_415(user_client):
    response = user_client.post("/api/v1/tokens/", "name=x", content_type="text/plain")
    assert response.status_code == 415 and _is_error_body(response, "unsupported_media_type")


def test_malformed_json_is_a_400_naming_the_problem(user_client):
    response = user_client.post("/api/v1/tokens/", "{bad json", content_type="application/json")
    assert response.status_code == 400 and _is_error_body(response, "parse_error")
    assert "JSON" in response.json()["error"]["message"]


def test_validation_errors_name_the_field(user_client):
    response = user_client.post("/api/v1/tokens/", {"scopes": []}, format="json")
    assert response.status_code == 400 and _is_error_body(response, "validation_error")
    assert response.json()["error"]["details"] == {"name": ["This field is required."]}
    assert response.json()["error"]["message"] == "name: This field is required."


def test_unhandled_error_in_a_drf_view_is_a_json_500(site):
    _token, raw = make_token(site, scopes=())
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = client.get("/api/v1/test-boom/")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"
    assert "boom" not in response.json()["error"]["message"]  # no internals leak (DEBUG is off)


def test_unhandled_error_in_a_plain_view_is_a_json_500(db):
    response = APIClient(raise_request_exception=False).get("/api/v1/test-plain-boom/")
    assert response.status_code == 500 and _is_error_body(response, "server_error")


def test_other_plain_error_pages_under_the_api_become_json(db):
    response = APIClient().get("/api/v1/test-plain-teapot/")
    assert response.status_code == 418 and _is_error_body(response, "error")
    assert response.json()["error"]["message"] == "I'm a Teapot"


def test_debug_500_names_the_exception(db):
    with override_settings(DEBUG=True):
        response = APIClient(raise_request_exception=False).get("/api/v1/test-plain-boom/")
    assert response.json()["error"]["details"] == {"exception": "RuntimeError: plain boom"}


# --- throttling of machine clients -------------------------------------------------------------------------------------

def _tiny_rate(rate: str):
    return override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"machine": rate}})


def _bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_token_over_its_rate_gets_429_with_retry_after(site):
    _token, raw = make_token(site, scopes=())
    client = _bearer(raw)
    with _tiny_rate("2/min"):
        statuses = [client.get("/api/v1/test-ping/").status_code for _ in range(3)]
        response = client.get("/api/v1/test-ping/")
    assert statuses == [200, 200, 429]
    assert response.status_code == 429 and _is_error_body(response, "throttled")
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 60
    assert response.json()["error"]["details"] == {"retry_after": retry_after}


def test_throttling_counts_per_token(site):
    _first, first_raw = make_token(site, scopes=(), name="MES-A")
    _second, second_raw = make_token(site, scopes=(), name="MES-B")
    with _tiny_rate("1/min"):
        assert _bearer(first_raw).get("/api/v1/test-ping/").status_code == 200
        assert _bearer(first_raw).get("/api/v1/test-ping/").status_code == 429
        assert _bearer(second_raw).get("/api/v1/test-ping/").status_code == 200


def test_users_are_not_throttled(user_client):
    with _tiny_rate("1/min"):
        assert [user_client.get("/api/v1/test-ping/").status_code for _ in range(3)] == [200, 200, 200]


@pytest.mark.redis
def test_throttle_counts_in_the_shared_redis_cache(site):
    """Production keeps the window in Redis, so every web replica counts the same requests."""
    import redis

    token, raw = make_token(site, scopes=())
    with _tiny_rate("5/min"):
        _bearer(raw).get("/api/v1/test-ping/")
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = [key.decode() for key in client.keys(f"*throttle:machine:{token.pk}:{token.prefix}:*")]
    assert len(keys) == 1
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"


@pytest.mark.parametrize("rate", ["5/s", "6000/min", "10/hour", "1000/day"])
def test_rate_strings_parse(rate):
    from qms.api.throttling import parse_rate

    number, period = parse_rate(rate)
    assert number == int(rate.split("/")[0]) and period in (1, 60, 3600, 86400)


def test_bad_rate_string_is_named():
    from qms.api.throttling import parse_rate

    with pytest.raises(ValueError, match="invalid throttle rate '5 per minute'"):
        parse_rate("5 per minute")


# --- pagination ------------------------------------------------------------------------------------------------------

def test_lists_are_paginated(user_client, site):
    for n in range(3):
        make_token(site, name=f"MES-{n}")
    body = user_client.get("/api/v1/tokens/?page_size=2").json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["previous"] is None
    assert "page=2" in body["next"]
    assert len(user_client.get(body["next"]).json()["results"]) == 1


def test_page_beyond_the_end_is_a_json_404(user_client):
    response = user_client.get("/api/v1/tokens/?page=99")
    assert response.status_code == 404 and _is_error_body(response, "not_found")


# --- production settings ------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_check_deploy_is_clean():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "qms.settings",
        "DJANGO_DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(60)[:60],
        "ALLOWED_HOSTS": "qms.example.com",
    }
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=root, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
