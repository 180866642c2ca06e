"""Write a compact snapshot of a running InvokeAI server's invocation schema.

    python scripts/snapshot_schema.py --url http://127.0.0.1:9090 [--output PATH]

Without ``--output`` it replaces the snapshot bundled with the package (what maintainers do when
moving to a new InvokeAI version). Users with custom nodes write their own file and point the
plugin at it. The library function behind it is ``pytest_invokeai.workflow.schema.fetch_schema``.
"""

from __future__ import annotations

import argparse
import sys

from pytest_invokeai.errors import InvokeAITestError
from pytest_invokeai.workflow.schema import BUNDLED_SNAPSHOT, fetch_schema


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="base URL of the InvokeAI server, e.g. http://127.0.0.1:9090")
    parser.add_argument(
        "--output", default=str(BUNDLED_SNAPSHOT), help="where to write the snapshot (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    try:
        schema = fetch_schema(args.url)
    except InvokeAITestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    schema.save(args.output)
    print(f"wrote {args.output}: InvokeAI {schema.invokeai_version}, {len(schema.nodes)} node types")
    return 0


if __name__ == "__main__":
    sys.exit(main())
