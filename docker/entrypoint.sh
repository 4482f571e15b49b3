#!/bin/sh
# One image, one role per container: web | mes | ws | worker | beat | connectors | migrate | <any manage.py command>.
set -e
role="${1:-web}"
shift || true
case "$role" in
  migrate)
    exec python manage.py migrate --noinput ;;
  web)
    # HTTP (UI, REST API): gunicorn WSGI, threaded workers, persistent database connections.
    python manage.py migrate --noinput
    exec gunicorn qms.wsgi:application -c /app/docker/gunicorn.conf.py "$@" ;;
  mes)
    # MES verdicts (/api/v1/verdicts/, routed here by the proxy): granian in front of the same WSGI application, one
    # Python thread per worker process, so no request waits for a GIL hand-off and no slow UI page queues in front
    # of MES. Measured with bench/verdicts.py (docs/deploy.md, "The MES role").
    exec /app/docker/mes-server.sh "$@" ;;
  ws)
    # Websockets (/ws/: live alarms, live charts): the ASGI server. The proxy routes /ws/ here, the rest to `web`.
    # Persistent connections do not outlive an ASGI request, so they are off here (DB_CONN_MAX_AGE=0 in compose).
    exec uvicorn qms.asgi:application --host 0.0.0.0 --port "${PORT:-8001}" \
      --workers "${WS_WORKERS:-1}" --proxy-headers --forwarded-allow-ips="${FORWARDED_ALLOW_IPS:-*}" \
      --no-access-log "$@" ;;
  worker)
    exec celery -A qms worker --loglevel=INFO -Q "${CELERY_QUEUES:-default,ingest,evaluate,writeback,periodic}" \
      --concurrency "${CELERY_CONCURRENCY:-4}" ;;
  beat)
    exec celery -A qms beat --loglevel=INFO --schedule "$QP_VAR_DIR/celerybeat-schedule" ;;
  connectors)
    exec python manage.py run_connectors "$@" ;;
  *)
    exec python manage.py "$role" "$@" ;;
esac
