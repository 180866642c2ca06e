"""Custom node packs on this machine: finding them, their content hash, copying them, reading InvokeAI's load errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_invokeai.baseline.record import BaselineRecord, OutputBaseline
from pytest_invokeai.cases.spec import CaseError, check_nodes
from pytest_invokeai.local.node_packs import (
    NodePackError,
    describe_pack_changes,
    failed_pack_names,
    find_packs,
    install_packs,
    pack_hash,
    pack_load_errors,
)
from pytest_invokeai.run.settings import resolve
from pytest_invokeai.server.live_schema import missing_node_types
from pytest_invokeai.workflow.load import load_workflow
from pytest_invokeai.workflow.schema import bundled_schema

EXAMPLE_NODES = Path(__file__).resolve().parents[2] / "example_suite" / "nodes"

# The lines InvokeAI 6.14.2 wrote for a pack that raised on import (its log file, colours included).
REAL_LOG = (
    "\x1b[38;20m[2026-12-02 10:45:36,091]::[InvokeAI]::INFO --> Loading node pack broken_pack\x1b[0m\n"
    "\x1b[31;20m[2026-12-02 10:45:36,092]::[InvokeAI]::ERROR --> Failed to load node pack broken_pack "
    "(may have partially loaded):\n"
    "Traceback (most recent call last):\n"
    '  File "/root/nodes/broken_pack/__init__.py", line 1, in <module>\n'
    '    raise RuntimeError("this pack is broken on purpose")\n'
    "RuntimeError: this pack is broken on purpose\n"
    "\x1b[0m\n"
    "\x1b[38;20m[2026-12-02 10:45:36,092]::[InvokeAI]::INFO --> Loaded 1 node pack from /root/nodes: "
    "checkerboard_nodes\x1b[0m\n"
)


def make_pack(folder: Path, source: str = "X = 1\n") -> Path:
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text(source)
    return folder


def test_a_folder_is_one_pack_or_a_folder_of_packs(tmp_path: Path) -> None:
    one = make_pack(tmp_path / "one" / "my_pack")
    make_pack(tmp_path / "many" / "b_pack")
    make_pack(tmp_path / "many" / "a_pack")
    make_pack(tmp_path / "many" / "_private")  # InvokeAI skips these: so do we
    (tmp_path / "many" / "notes").mkdir()  # no __init__.py: not a pack
    assert [(p.name, p.path) for p in find_packs([one])] == [("my_pack", one)]
    assert [p.name for p in find_packs([tmp_path / "many"])] == ["a_pack", "b_pack"]
    assert [p.name for p in find_packs([one, one])] == ["my_pack"], "the same folder twice is one pack"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: root / "nowhere", "does not exist"),
        (lambda root: (root / "empty").mkdir() or root / "empty", "is not a node pack (it has no __init__.py)"),
        (lambda root: make_pack(root / "_hidden"), "skips packs whose name starts with '_' or '.'"),
    ],
)
def test_a_folder_that_holds_no_pack_is_named(tmp_path: Path, make, message: str) -> None:
    folder = make(tmp_path)
    with pytest.raises(NodePackError) as caught:
        find_packs([folder])
    assert message in str(caught.value) and str(folder) in str(caught.value)


def test_two_packs_of_one_name_are_refused(tmp_path: Path) -> None:
    first, second = make_pack(tmp_path / "a" / "same"), make_pack(tmp_path / "b" / "same")
    with pytest.raises(NodePackError, match="two node packs are named 'same'"):
        find_packs([first, second])


def test_the_hash_follows_the_content_not_the_place_or_caches(tmp_path: Path) -> None:
    pack = make_pack(tmp_path / "a" / "pack")
    (pack / "nodes.py").write_text("Y = 2\n")
    before = pack_hash(pack)
    assert before.startswith("sha256:") and len(before) == len("sha256:") + 64
    (pack / "__pycache__").mkdir()
    (pack / "__pycache__" / "nodes.cpython-311.pyc").write_bytes(b"\0compiled")
    assert pack_hash(pack) == before, "Python's caches are not the pack"
    copy = make_pack(tmp_path / "b" / "pack")
    (copy / "nodes.py").write_text("Y = 2\n")
    assert pack_hash(copy) == before, "the same files elsewhere are the same pack"
    (copy / "nodes.py").write_text("Y = 3\n")
    assert pack_hash(copy) != before
    (pack / "nodes.py").rename(pack / "other.py")
    assert pack_hash(pack) != before, "a renamed file changes the pack"


def test_install_copies_exactly_the_packs_and_leaves_the_sources_alone(tmp_path: Path) -> None:
    pack = make_pack(tmp_path / "src" / "pack")
    (pack / "__pycache__").mkdir()
    (pack / "__pycache__" / "x.pyc").write_bytes(b"\0")
    nodes_dir = tmp_path / "root" / "pytest-invokeai-nodes"
    make_pack(nodes_dir / "old_pack")  # from the server's last start
    install_packs(find_packs([pack]), nodes_dir)
    assert sorted(p.name for p in nodes_dir.iterdir()) == ["pack"]
    assert (nodes_dir / "pack" / "__init__.py").read_text() == "X = 1\n"
    assert not (nodes_dir / "pack" / "__pycache__").exists()
    assert (pack / "__pycache__" / "x.pyc").exists()


def test_invokeais_own_error_is_read_from_its_log() -> None:
    (error,) = pack_load_errors(REAL_LOG)
    assert error.splitlines()[0].endswith("Failed to load node pack broken_pack (may have partially loaded):")
    assert error.splitlines()[-1] == "RuntimeError: this pack is broken on purpose"
    assert "\x1b" not in error and "Loaded 1 node pack" not in error
    assert failed_pack_names(REAL_LOG) == ["broken_pack"]
    assert pack_load_errors(REAL_LOG.replace("Failed to load", "Loading")) == []


def test_a_pack_change_is_one_short_line() -> None:
    old, new = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    assert describe_pack_changes({"p": old}, {"p": old}) == ""
    assert describe_pack_changes({"p": old}, {"p": new}) == "p changed (aaaaaaaaaaaa -> bbbbbbbbbbbb)"
    assert describe_pack_changes({"p": old, "q": old}, {"p": old}) == "q not loaded"
    assert describe_pack_changes({"p": old}, {"p": old, "r": new}) == "r added"
    assert describe_pack_changes({}, {"p": new}) == "", "a record made without pack hashes says nothing"


def test_records_keep_pack_hashes_and_records_without_packs_keep_their_bytes() -> None:
    plain = BaselineRecord(test_id="t.py::t", outputs={"n": OutputBaseline(images=[])})
    assert "node_packs" not in json.loads(plain.to_json())
    with_packs = BaselineRecord(
        test_id="t.py::t", outputs={"n": OutputBaseline(images=[])}, node_packs={"p": "sha256:" + "c" * 64}
    )
    text = with_packs.to_json()
    assert json.loads(text)["node_packs"] == {"p": "sha256:" + "c" * 64}
    assert BaselineRecord.from_json(text, source="r.json").to_json() == text
    broken = text.replace('"sha256:' + "c" * 64 + '"', "3")
    with pytest.raises(Exception, match=r"r\.json.*\$\.node_packs"):
        BaselineRecord.from_json(broken, source="r.json")


def test_node_types_the_server_lacks_are_listed_by_name() -> None:
    workflow = load_workflow(EXAMPLE_NODES.parent / "workflows" / "checkerboard.json")
    assert missing_node_types(workflow, bundled_schema()) == ["checkerboard_image"]
    noise = load_workflow(EXAMPLE_NODES.parent / "workflows" / "noise-texture.json")
    assert missing_node_types(noise, bundled_schema()) == []


def test_the_option_is_relative_to_the_rootdir_and_repeatable(tmp_path: Path) -> None:
    settings = resolve({"invokeai_nodes": ["nodes/a", "b"]}, lambda name: None, rootdir=tmp_path, environ={})
    assert settings.nodes == [tmp_path / "nodes" / "a", tmp_path / "b"]
    from_env = resolve({}, lambda name: None, rootdir=tmp_path, environ={"PYTEST_INVOKEAI_NODES": "x,y"})
    assert from_env.nodes == [tmp_path / "x", tmp_path / "y"]
    from_ini = resolve({}, lambda name: ["z"] if name == "invokeai_nodes" else None, rootdir=tmp_path, environ={})
    assert from_ini.nodes == [tmp_path / "z"]


def test_a_marker_or_suite_file_names_packs_relative_to_itself(tmp_path: Path) -> None:
    make_pack(tmp_path / "nodes" / "p")
    assert check_nodes(["nodes/p"], "t.py: nodes", tmp_path) == (tmp_path / "nodes" / "p",)
    assert check_nodes("nodes", "t.py: nodes", tmp_path) == (tmp_path / "nodes",)
    with pytest.raises(CaseError, match=r"t\.py: nodes: node pack folder .*missing does not exist"):
        check_nodes(["missing"], "t.py: nodes", tmp_path)
    with pytest.raises(CaseError, match="a list of node pack folders"):
        check_nodes([3], "t.py: nodes", tmp_path)


def test_the_example_pack_is_one_pack() -> None:
    (pack,) = find_packs([EXAMPLE_NODES])
    assert pack.name == "checkerboard_nodes"


# -- the live schema: read once per server and run -------------------------------------------------

OPENAPI = {
    "components": {
        "schemas": {
            "CheckerInvocation": {
                "class": "invocation",
                "properties": {
                    "type": {"const": "checker"},
                    "size": {"type": "integer", "minimum": 8, "field_kind": "input"},
                },
            }
        }
    }
}


def openapi_server(answers: list[str], status: int = 200):
    import httpx

    def handle(request: httpx.Request) -> httpx.Response:
        answers.append(request.url.path)
        return httpx.Response(status, json=OPENAPI if status == 200 else {"detail": "Not Found"})

    return httpx.MockTransport(handle)


def test_the_live_schema_is_read_once_per_server_and_run(tmp_path: Path) -> None:
    from pytest_invokeai.server.client import InvokeAIClient
    from pytest_invokeai.server.live_schema import run_live_schema

    asked: list[str] = []
    with InvokeAIClient("http://gpu:9090", transport=openapi_server(asked)) as client:
        first = run_live_schema(client, "6.14.2", tmp_path)
        again = run_live_schema(client, "6.14.2", tmp_path)  # another xdist worker of the run reads the copy
    assert asked == ["/openapi.json"]
    assert first.field("checker", "size") == again.field("checker", "size")
    assert again.field("checker", "size").constraints == {"minimum": 8}
    assert again.invokeai_version == "6.14.2"


def test_a_server_whose_schema_cannot_be_read_falls_back_to_the_shipped_one_with_a_warning(tmp_path: Path) -> None:
    from pytest_invokeai.run.state import _live_schema
    from pytest_invokeai.server.client import InvokeAIClient

    warned = pytest.warns(UserWarning, match=r"the node schema of http://proxy:80 cannot be read, so the shipped one")
    with InvokeAIClient("http://proxy:80", transport=openapi_server([], status=404), retries=0) as client, warned:
        assert _live_schema(client, "6.14.2", tmp_path) is None


def test_the_live_schema_is_read_only_where_it_can_differ_from_the_shipped_one(tmp_path: Path) -> None:
    from pytest_invokeai.run.state import RunState

    settings = resolve({"invokeai_url": ["http://gpu:9090"]}, lambda name: None, rootdir=tmp_path, environ={})

    def state(workflows: list[str], packs: tuple[Path, ...] = ()) -> RunState:
        made = RunState(settings, rootdir=tmp_path, run_dir=tmp_path / "run", owner=True, node_packs=find_packs(packs))
        made.use_workflows(EXAMPLE_NODES.parent / "workflows" / f"{name}.json" for name in workflows)
        return made

    core = state(["noise-texture", "color-blocks"])
    assert not core._needs_live_schema("6.14.2"), "the shipped snapshot is 6.14.2's: nothing to learn"
    assert core._needs_live_schema("6.13.8"), "another release may type core nodes otherwise"
    assert state(["noise-texture", "checkerboard"])._needs_live_schema("6.14.2"), "a custom node type"
    assert state(["noise-texture"], (EXAMPLE_NODES,))._needs_live_schema("6.14.2"), "a pack may change a core node"


def test_a_record_holds_the_packs_whose_node_types_its_workflow_uses() -> None:
    from pytest_invokeai.server.live_schema import packs_used_by
    from pytest_invokeai.workflow.schema import InvocationSchema

    openapi = {
        "components": {
            "schemas": {
                "CheckerboardImageInvocation": {
                    "class": "invocation",
                    "node_pack": "checkerboard_nodes",  # as InvokeAI names a custom node's pack: its folder
                    "properties": {"type": {"const": "checkerboard_image"}},
                }
            }
        }
    }
    schema = InvocationSchema.from_openapi(openapi, invokeai_version="6.14.2")
    hashes = {"checkerboard_nodes": "sha256:" + "a" * 64, "other_pack": "sha256:" + "b" * 64}
    checkerboard = load_workflow(EXAMPLE_NODES.parent / "workflows" / "checkerboard.json", schema=schema)
    assert packs_used_by(checkerboard, hashes) == {"checkerboard_nodes": "sha256:" + "a" * 64}
    noise = load_workflow(EXAMPLE_NODES.parent / "workflows" / "noise-texture.json")
    assert packs_used_by(noise, hashes) == {}, "core nodes come from no pack of ours"
