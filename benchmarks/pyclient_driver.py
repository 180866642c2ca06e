"""Approach 2, run inside benchmarks/.venv-pyclient: invokeai-py-client 1.1.1 driving the same cases.

Usage: python pyclient_driver.py URL WORKFLOW SIZE N OUT.json

Standalone on purpose (it runs in the py-client's own environment, not the project's). It uses the
library's documented blocking pattern per case: set the form inputs by index, ``submit_sync()``,
``wait_for_completion_sync()`` (which polls every 0.5 s), then download the image. Two facts of
1.1.1 shape the script, both recorded in the output:

- ``create_workflow`` refuses workflows exported by InvokeAI 6.13+ (``meta.version`` 4.0.0, "may not
  be fully compatible"), so it is called with ``validate=False``;
- ``map_outputs_to_images`` maps only outputs whose board field is on the form; this workflow has
  none, so the image name is read from the completed queue item's session results, and downloaded
  with the library's ``BoardHandle.download_image`` (which lists the board's image names first).
"""

from __future__ import annotations

import json
import sys
import time
from importlib.metadata import version

WIDTH, HEIGHT, SEED = 0, 1, 2
OUTPUT_NODE = "save_image:QNzg2OuNJm"
TIMEOUT = 300.0


def image_names(workflow, queue_item) -> tuple[list[str], bool]:
    """The output image names, and whether they had to come from the session results."""
    mapped = [name for m in workflow.map_outputs_to_images(queue_item) for name in m.get("image_names") or []]
    if mapped:
        return mapped, False
    session = queue_item["session"]
    prepared = session["source_prepared_mapping"][OUTPUT_NODE]
    return [session["results"][p]["image"]["image_name"] for p in prepared], True


def main(url: str, workflow_path: str, size: int, n: int, out_path: str) -> None:
    from invokeai_py_client import InvokeAIClient
    from invokeai_py_client.workflow import WorkflowDefinition

    client = InvokeAIClient.from_url(url)
    workflow = client.workflow_repo.create_workflow(WorkflowDefinition.from_file(workflow_path), validate=False)
    workflow.get_input_value(WIDTH).value = size
    workflow.get_input_value(HEIGHT).value = size
    uncategorized = client.board_repo.get_board_handle(None)
    item_ids: list[int] = []
    used_results_fallback = False
    wall_start = time.time()
    for seed in range(n):
        workflow.get_input_value(SEED).value = seed
        submitted = workflow.submit_sync()
        item_ids.extend(submitted["item_ids"])
        queue_item = workflow.wait_for_completion_sync(poll_interval=0.5, timeout=TIMEOUT)
        names, from_results = image_names(workflow, queue_item)
        used_results_fallback = used_results_fallback or from_results
        for name in names:
            uncategorized.download_image(name)
    wall_end = time.time()
    with open(out_path, "w", encoding="utf-8") as out:
        json.dump(
            {
                "item_ids": item_ids,
                "wall_start": wall_start,
                "wall_end": wall_end,
                "library_version": version("invokeai-py-client"),
                "image_names_from_session_results": used_results_fallback,
            },
            out,
        )


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__.splitlines()[2])
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
