# Shared by .ci/up and .ci/test: a venv with the pinned requirements, compiled catalogues, services when present.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
VENV="$ROOT/.venv"

ensure_venv() {
  local reqs="$1"
  if [ ! -x "$VENV/bin/python" ]; then
    echo "==> creating virtualenv in .venv"
    "$PY" -m venv "$VENV"
  fi
  local stamp="$VENV/.installed-$(cat "$reqs" requirements.txt | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    echo "==> installing $reqs"
    # uv installs the same pinned requirements in seconds where pip takes about three minutes (a third of CI's
    # budget goes to nothing else); pip remains the fallback when uv cannot be had.
    # (this machine's pip config names local mirrors that may be absent: drop those warnings, keep real errors)
    if "$VENV/bin/pip" install --quiet uv 2> >(grep -v "^WARNING: Location" >&2) \
        && "$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" -r "$reqs"; then
      :
    else
      echo "==> uv unavailable: installing with pip"
      "$VENV/bin/pip" install --quiet --upgrade pip 2> >(grep -v "^WARNING: Location" >&2)
      "$VENV/bin/pip" install --quiet -r "$reqs" 2> >(grep -v "^WARNING: Location" >&2)
    fi
    touch "$stamp"
  fi
}

ensure_gettext() {
  if ! command -v msgfmt >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      echo "==> installing gettext (msgfmt) to compile the translation catalogues"
      apt-get update -qq && apt-get install -y -qq gettext >/dev/null
    else
      echo "!! msgfmt not found: install gettext to compile translations" >&2
      return 1
    fi
  fi
}

compile_catalogues() {
  ensure_gettext
  DJANGO_DEBUG=1 "$VENV/bin/python" manage.py compilemessages --ignore=.venv -v 0
}

postgres_up() { "$VENV/bin/python" - <<'PYEOF' 2>/dev/null
import psycopg2
psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=2).close()
PYEOF
}

ensure_database() { "$VENV/bin/python" - "$1" <<'PYEOF'
import sys
from urllib.parse import unquote, urlsplit

import psycopg2
from psycopg2 import sql

url = urlsplit(sys.argv[1])
name = unquote(url.path.lstrip("/"))
connection = psycopg2.connect(host=url.hostname or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres",
                              password=unquote(url.password) if url.password else None, dbname="postgres")
connection.autocommit = True
with connection.cursor() as cursor:
    cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
    if cursor.fetchone() is None:
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
connection.close()
PYEOF
}

redis_up() { "$VENV/bin/python" -c "import redis; redis.Redis(host='127.0.0.1', port=6379, socket_timeout=2).ping()" 2>/dev/null; }
