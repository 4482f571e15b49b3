import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qms.settings")
full_stack = get_wsgi_application()

# MES verdicts (/api/v1/verdicts/) take a lane with a shorter middleware stack: traceability/verdicts/lane.py.
from traceability.verdicts.lane import with_verdict_lane  # noqa: E402  (after django.setup())

application = with_verdict_lane(full_stack)

# The start-up objects of Django and the application (~180,000) live as long as the process: frozen, full
# collections stop walking them (~100 ms each, measured in a worker), one source of a worker's occasional stall.
gc.freeze()
