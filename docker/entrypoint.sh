#!/bin/sh
# One image, one role per container: web | worker | beat | connectors | migrate | <any manage.py command>.
set -e
role="${1:-web}"
shift || true
case "$role" in
  migrate)
    exec python manage.py migrate --noinput ;;
  web)
    python manage.py migrate --noinput
    exec uvicorn qms.asgi:application --host 0.0.0.0 --port "${PORT:-8000}" \
      --workers "${WEB_WORKERS:-4}" --proxy-headers --forwarded-allow-ips="${FORWARDED_ALLOW_IPS:-*}" \
      --no-access-log ;;
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
