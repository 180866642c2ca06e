"""``python -m pytest_invokeai.cli``: the same as the ``pytest-invokeai`` command."""

from pytest_invokeai.cli import main

raise SystemExit(main())
