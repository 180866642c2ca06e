"""What server/test_fingerprint_server.py and unit/test_fingerprint.py share: the cases and helpers both parts of the split test use."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "calibrate_thresholds", Path(__file__).resolve().parents[1] / "scripts" / "calibrate_thresholds.py"
)


calibration = importlib.util.module_from_spec(_spec)
