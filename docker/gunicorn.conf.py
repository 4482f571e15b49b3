"""gunicorn settings of the `web` role (HTTP: UI, REST API, MES verdicts). Websockets go to the `ws` role (ASGI).

Why WSGI with threads rather than the ASGI server for HTTP: Django's persistent database connections (CONN_MAX_AGE)
live per thread under WSGI, so a gthread worker keeps one health-checked PostgreSQL connection per thread across
requests; under ASGI every request runs in a fresh context and opens (and closes) its own connection. Measured with
bench/verdicts.py (docs/deploy.md, "Why two servers").
"""
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
keepalive = int(os.environ.get("WEB_KEEPALIVE_S", "30"))  # the proxy keeps its upstream connections open
timeout = int(os.environ.get("WEB_TIMEOUT_S", "60"))  # longest request (audit CSV export, PDF) before a restart
graceful_timeout = 30
# The proxy in front forwards X-Forwarded-Proto/-For; only trust it from these addresses.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # heartbeat file off the (overlay) disk
accesslog = None
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
