"""The `mes` role's server for real: docker/mes-server.sh (granian, WSGI, one Python thread per worker) started as
production starts it, against this test's database and Redis, answering MES over HTTP/1.1 keep-alive."""
import http.client
import json
import os
import subprocess
import time

import pytest
from django.conf import settings
from django.db import connection

from qms.auth.tokens import issue_token
from tests.e2e.stack import REPO, free_port, port_open
from tests.factories import LotFactory, SiteFactory
from tests.factories_verdicts import hold_lots

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def mes_server(tmp_path, verdict_cache):
    port, database = free_port(), settings.DATABASES["default"]
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "MES_WORKERS": "1", "LOG_LEVEL": "WARNING",
           "PATH": f"{REPO / '.venv/bin'}:{os.environ.get('PATH', '')}", "DJANGO_SETTINGS_MODULE": "qms.settings",
           "DJANGO_DEBUG": "1", "QP_VAR_DIR": str(tmp_path), "REDIS_URL": settings.REDIS_URL,
           "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}"
                           f"/{connection.settings_dict['NAME']}"}
    server = subprocess.Popen([str(REPO / "docker/mes-server.sh")], cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not port_open(port):
            assert server.poll() is None, "docker/mes-server.sh exited"
            assert time.monotonic() < deadline, "docker/mes-server.sh did not listen within 60 s"
            time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_the_mes_server_answers_verdicts_over_keep_alive(mes_server):
    site = SiteFactory(code="S1")
    held = LotFactory(site=site, code="L-HELD")
    LotFactory(site=site, code="L-FREE")
    hold_lots(site, [held])
    _token, raw = issue_token(name="MES", site=site, scopes=["verdicts:read"])
    headers = {"Authorization": f"Bearer {raw}", "X-Forwarded-Proto": "https"}
    client = http.client.HTTPConnection("127.0.0.1", mes_server, timeout=10)   # one connection for all requests

    answers = {}
    for code in ("L-HELD", "L-FREE", "L-NONE"):
        client.request("GET", f"/api/v1/verdicts/lots/{code}/", headers=headers)
        response = client.getresponse()
        answers[code] = (response.status, json.loads(response.read()))
    client.request("POST", "/api/v1/verdicts/query/", body=json.dumps({"lots": ["L-HELD", "L-FREE"]}),
                   headers={**headers, "Content-Type": "application/json"})
    batch = client.getresponse()
    batch_body = json.loads(batch.read())

    assert answers["L-HELD"][0] == 200 and answers["L-HELD"][1]["verdict"] == "hold"
    assert answers["L-FREE"][0] == 200 and answers["L-FREE"][1]["verdict"] == "release"
    assert answers["L-NONE"][0] == 404 and answers["L-NONE"][1]["error"]["code"] == "unknown_lot"
    assert batch.status == 200 and [r["verdict"] for r in batch_body["results"]] == ["hold", "release"]
