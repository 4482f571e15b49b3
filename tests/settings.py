"""Test settings: production settings with DEBUG-mode defaults for the secrets and a fast password hasher."""
import os

os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("QP_VAR_DIR", "/tmp/qualitypulse-test-var")

from qms.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Tasks run in-process in tests even when REDIS_URL points the cache and channel layer at a real Redis: a test that
# needs a real worker starts one and overrides this itself.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = "memory://"
