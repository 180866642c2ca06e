"""The invocation schema: reading InvokeAI's /openapi.json, the bundled snapshot, refreshing it."""

from __future__ import annotations

from pathlib import Path

import pytest
from schema_cases import TINY_OPENAPI, _snapshot_script

from pytest_invokeai.workflow.schema import (
    BUNDLED_SNAPSHOT,
    InvocationSchema,
    bundled_schema,
    fetch_schema,
)

# A small /openapi.json in InvokeAI's shape, one property per case the mapping handles.


@pytest.fixture(scope="module")
def tiny() -> InvocationSchema:
    return InvocationSchema.from_openapi(TINY_OPENAPI, invokeai_version="9.9.9")


# -- from_openapi -------------------------------------------------------------------------------


# -- snapshot files -----------------------------------------------------------------------------


# -- the bundled InvokeAI 6.14.2 snapshot ---------------------------------------------------------


# -- fetching from a server ------------------------------------------------------------------------


def test_bundled_snapshot_matches_the_live_server(invokeai_server_url: str, tmp_path: Path) -> None:
    """The snapshot is what the pinned InvokeAI's /openapi.json says, read by ``from_openapi``."""
    main = _snapshot_script().main
    live = fetch_schema(invokeai_server_url)
    if live.invokeai_version != bundled_schema().invokeai_version:
        pytest.fail(
            f"the server at {invokeai_server_url} runs InvokeAI {live.invokeai_version}, the snapshot is of "
            f"{bundled_schema().invokeai_version}: compare against the pinned version"
        )
    assert live == bundled_schema()
    assert main(["--url", invokeai_server_url, "--output", str(tmp_path / "fresh.json")]) == 0
    assert (tmp_path / "fresh.json").read_text() == BUNDLED_SNAPSHOT.read_text()
