"""Mapping a finished queue item's results back to the workflow's nodes (real queue item from the GUI)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from pytest_invokeai.server.outputs import images_by_node


def real_item(gui_exports: Path) -> dict:
    return json.loads((gui_exports / "sdxl-text-to-image.queue-item.json").read_text())


def test_the_real_queue_items_image_comes_from_its_l2i_node(gui_exports: Path) -> None:
    found = images_by_node(real_item(gui_exports))
    # Read by hand from the file: only canvas_output:JbPTiAJ26r (an l2i, not intermediate) outputs an image.
    assert list(found) == ["canvas_output:JbPTiAJ26r"]
    node = found["canvas_output:JbPTiAJ26r"]
    assert (node.node_type, node.is_intermediate) == ("l2i", False)
    assert [(i.image_name, i.output_field, i.width, i.height) for i in node.images] == [
        ("fe4089fd-1187-4883-b180-8aaf2fc317ba.png", "image", 768, 1024)
    ]


def test_a_node_that_ran_several_times_lists_every_image(gui_exports: Path) -> None:
    item = real_item(gui_exports)
    session = item["session"]
    session["source_prepared_mapping"]["canvas_output:JbPTiAJ26r"] = ["p1", "p2"]
    first = session["results"].pop("551347fe-1cc9-4958-b387-287479279ce9")
    session["results"]["p1"] = first
    session["results"]["p2"] = {**copy.deepcopy(first), "image": {"image_name": "second.png"}}
    images = images_by_node(item)["canvas_output:JbPTiAJ26r"].images
    assert [(i.prepared_id, i.image_name) for i in images] == [
        ("p1", "fe4089fd-1187-4883-b180-8aaf2fc317ba.png"),
        ("p2", "second.png"),
    ]


def test_collection_outputs_count_too() -> None:
    item = {
        "session": {
            "graph": {"nodes": {"col": {"id": "col", "type": "image_collection", "is_intermediate": True}}},
            "source_prepared_mapping": {"col": ["c1"]},
            "results": {
                "c1": {
                    "type": "image_collection_output",
                    "collection": [{"image_name": "a.png"}, {"image_name": "b.png"}],
                }
            },
        }
    }
    node = images_by_node(item)["col"]
    assert [i.image_name for i in node.images] == ["a.png", "b.png"]
    assert node.is_intermediate is True
