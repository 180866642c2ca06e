"""The cases every approach runs: the model-free noise-texture workflow, one case per seed.

The workflow's form (example_suite/workflows/noise-texture.json): 0 Width, 1 Height, 2 Seed,
3 Noise amount, 4 Blur radius. Case ``i`` is seed ``i`` at ``size`` x ``size``; the other inputs keep
the workflow's values. The benchmark copy of the workflow has ``useCache`` off in every node, so
whichever way an approach builds its graph, the server's node cache cannot serve it a result an
earlier approach computed (the server's cache is also disabled, see ``server.disable_cache``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE_WORKFLOW = REPO / "example_suite" / "workflows" / "noise-texture.json"
WIDTH, HEIGHT, SEED = 0, 1, 2  # form indices
OUTPUT_NODE = "save_image:QNzg2OuNJm"  # the workflow's one gallery image


@dataclass(frozen=True)
class Workload:
    workflow: Path  # the benchmark copy (node cache off)
    size: int  # width and height of every image

    def seeds(self, n: int) -> list[int]:
        return list(range(n))

    def form_values(self, seed: int) -> dict[int, int]:
        return {WIDTH: self.size, HEIGHT: self.size, SEED: seed}


def write_uncached_workflow(directory: Path) -> Path:
    """A copy of the noise-texture workflow with ``useCache: false`` in every node."""
    document = json.loads(SOURCE_WORKFLOW.read_text())
    for node in document.get("nodes", []):
        if node.get("type") == "invocation":
            node["data"]["useCache"] = False
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "noise-texture.json"
    target.write_text(json.dumps(document, indent=2))
    return target
