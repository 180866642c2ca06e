"""The node schema of the server a run generates on, read from it (its custom nodes included).

Precedence, decided by the run: a schema file the user names wins, then the live schema of the
server, then the snapshot shipped with the plugin (for commands that have no server). The live
schema is read once per server and run: the first process of a run that connects writes it into the
run's folder, and the others (xdist workers) read it from there. It is never read while pytest
collects: collection must not wait for, or need, a server.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path

from pytest_invokeai._util.atomic import write_atomic
from pytest_invokeai._util.locks import file_lock
from pytest_invokeai.server import api
from pytest_invokeai.server.client import InvokeAIClient
from pytest_invokeai.workflow.load import Workflow
from pytest_invokeai.workflow.schema import InvocationSchema, SchemaError, bundled_schema

SCHEMAS_DIR = "schemas"
#: Node types that are not invocations a server must know (the web UI's own).
NON_INVOCATION_NODES = ("notes", "connector", "current_image")


def fetch_live_schema(client: InvokeAIClient, version: str) -> InvocationSchema:
    """The schema of the server ``client`` talks to; ``version`` is what it told (``probe_version``)."""
    openapi = client.send(api.openapi())
    try:
        return InvocationSchema.from_openapi(openapi, invokeai_version=version)
    except SchemaError as exc:
        raise SchemaError(f"{client.base_url}/openapi.json: {exc}") from None


def first_contact(run_dir: Path, base_url: str) -> AbstractContextManager[None]:
    """Held by a process of the run while it first talks to a server (its version probe, its schema).

    A server that builds its /openapi.json (seconds, the first time) answers nothing else meanwhile: the
    version probe of another process of the run (an xdist worker) would take that for a server that hangs.
    """
    return file_lock(run_dir / SCHEMAS_DIR / f".{_key(base_url)}.lock")


def run_live_schema(client: InvokeAIClient, version: str, run_dir: Path) -> InvocationSchema:
    """The live schema of this server for this run: read from the server by the first process, then shared.

    The caller holds :func:`first_contact` for the server.
    """
    cached = run_dir / SCHEMAS_DIR / f"{_key(client.base_url)}.json"
    if cached.exists():
        return InvocationSchema.load(cached)
    schema = fetch_live_schema(client, version)
    write_atomic(cached, json.dumps(schema.to_json()).encode())
    return schema


def _key(base_url: str) -> str:
    return hashlib.sha256(base_url.encode()).hexdigest()[:16]


def missing_node_types(workflow: Workflow, schema: InvocationSchema) -> list[str]:
    """The node types of the workflow that the server does not have, sorted (each once)."""
    return sorted(
        {
            node.data.type
            for node in workflow.nodes
            if node.type == "invocation"
            and node.data.type not in NON_INVOCATION_NODES
            and schema.node(node.data.type) is None
        }
    )


def live_schema_needed(server_version: str, *, node_packs: bool, workflows: Iterable[Workflow]) -> bool:
    """Whether a server's schema can differ from the shipped one for these workflows.

    It cannot when the server runs the shipped snapshot's release, loads no node pack of ours and no
    workflow uses a node type the snapshot lacks: then reading it (seconds, the first time a server
    builds its /openapi.json) would change nothing, and the run does not pay for it.
    """
    shipped = bundled_schema()
    if server_version != shipped.invokeai_version or node_packs:
        return True
    return any(missing_node_types(workflow, shipped) for workflow in workflows)


def packs_used_by(workflow: Workflow, pack_hashes: dict[str, str]) -> dict[str, str]:
    """The packs (of ``pack_hashes``: name -> hash) that provide a node type the workflow uses.

    InvokeAI names a custom node's pack in its schema (``node_pack``: the folder it was loaded from); the
    workflow's schema is the server's live one whenever the run has node packs.
    """
    used = {
        spec.node_pack
        for node in workflow.nodes
        if node.type == "invocation" and (spec := workflow.schema.node(node.data.type)) is not None
    }
    return {name: content_hash for name, content_hash in pack_hashes.items() if name in used}
