"""``python -m pytest_invokeai.cli``: the same as the ``pytest-invokeai`` command."""

from . import main

raise SystemExit(main())
