"""The report as the review serves it: the run's own ``report.html`` with the review script added.

The page knows nothing of the report's internals: the script finds the cases by the ``data-test-id``
attribute that each case's element carries (the test id as ``report.json`` has it).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

CONFIG_ID = "pytest-invokeai-review"


def review_script() -> str:
    return resources.files("pytest_invokeai.review").joinpath("review.js").read_text(encoding="utf-8")


def inject(html: str, *, config: dict[str, Any]) -> str:
    """``html`` with the review's settings (a JSON block) and its script just before ``</body>``."""
    # "</" never appears inside the JSON block: a test id holding "</script>" cannot end it early.
    data = json.dumps(config, ensure_ascii=False).replace("</", "<\\/")
    added = f'<script type="application/json" id="{CONFIG_ID}">{data}</script><script>{review_script()}</script>'
    at = html.lower().rfind("</body>")
    return html[:at] + added + html[at:] if at >= 0 else html + added
