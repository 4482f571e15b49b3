#!/bin/sh
# The `mes` role's server: MES verdicts (/api/v1/verdicts/) on granian, a Rust HTTP server, in front of the WSGI
# application — worker processes of one Python thread each (docs/deploy.md, "The MES role"). docker/entrypoint.sh,
# bench/verdicts.py and tests/verdicts/test_mes_server.py all start it through this file.
exec granian --interface wsgi qms.wsgi:application --host "${HOST:-0.0.0.0}" --port "${PORT:-8002}" \
  --workers "${MES_WORKERS:-2}" --blocking-threads "${MES_THREADS:-1}" --no-ws \
  --log-level "$(echo "${LOG_LEVEL:-info}" | tr '[:upper:]' '[:lower:]')" "$@"
