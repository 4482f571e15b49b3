import pytest
from django.core.exceptions import ImproperlyConfigured


def test_schema_endpoint_requires_no_cdn(client, engineer):
    client.force_login(engineer)  # schema and docs need a signed-in user or a token (tests/test_api_conventions.py)
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"openapi" in response.content


@pytest.mark.parametrize("path", ["/api/v1/characteristics/", "/api/v1/measurements/"])
def test_api_refuses_anonymous(api_client, db, path):
    assert api_client.get(path).status_code in (401, 403)


def test_production_mode_refuses_default_secret(monkeypatch):
    import importlib

    import qms.settings as qms_settings

    monkeypatch.setenv("DJANGO_DEBUG", "0")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        importlib.reload(qms_settings)
    monkeypatch.setenv("DJANGO_DEBUG", "1")
    importlib.reload(qms_settings)
