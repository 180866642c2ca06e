"""``python -m pytest_invokeai.server.install``: the install command the README names.

Installing InvokeAI is owning a local server, so the code lives in :mod:`pytest_invokeai.local.install`;
this module keeps the command (and its import path) that users and CI scripts already call.
"""

from pytest_invokeai.local.install import *  # noqa: F403 - the command's public names, re-exported
from pytest_invokeai.local.install import main

if __name__ == "__main__":
    raise SystemExit(main())
