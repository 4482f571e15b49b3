"""Constants shared by the browser tests."""
import os
from pathlib import Path

SCREENSHOTS = Path(os.environ.get("QP_SCREENSHOT_DIR", "/tmp/qualitypulse-screenshots"))
PASSWORD = "pw-Quality-2026"
