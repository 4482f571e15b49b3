"""Helpers shared by the ingestion and dead-letter tests."""
import orjson
from rest_framework.test import APIClient

from tests.factories import CharacteristicFactory, EquipmentFactory, make_token

URL = "/api/v1/measurements/"
TEMP_CODE = "IMM01.BARREL_Z2.TEMP"


def reading(code: str = TEMP_CODE, value=231.2, ts: str = "2026-01-05T08:00:00.123Z", **extra) -> dict:
    return {"characteristic": code, "value": value, "ts": ts, **extra}


def series(count: int, code: str = TEMP_CODE, start_second: int = 0) -> list[dict]:
    return [reading(code, 230.0 + (i % 10) / 10, f"2026-01-05T08:{(start_second + i) // 60:02d}:"
                                               f"{(start_second + i) % 60:02d}Z") for i in range(count)]


def post_batch(client, items=None, *, raw: bytes | None = None, key: str | None = None, **body):
    payload = raw if raw is not None else orjson.dumps({"measurements": items, **body})
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(URL, data=payload, content_type="application/json", **headers)


def token_client(site, *, name: str, scopes=("ingest",)) -> APIClient:
    _token, raw = make_token(site, scopes=scopes, name=name)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def site_with_temperature(site, code: str = TEMP_CODE, equipment_code: str = "IMM01", **spec):
    """Equipment + a barrel temperature characteristic (precision 1, range 0–400) on `site`."""
    machine = EquipmentFactory(code=equipment_code, work_center__line__area__site=site, site=site)
    return CharacteristicFactory(site=site, code=code, equipment=machine, **spec)
