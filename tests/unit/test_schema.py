"""The invocation schema: reading InvokeAI's /openapi.json, the bundled snapshot, refreshing it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from schema_cases import TINY_OPENAPI, _snapshot_script

from pytest_invokeai.errors import ServerError
from pytest_invokeai.workflow.form import KINDS
from pytest_invokeai.workflow.schema import (
    BUNDLED_SNAPSHOT,
    FieldSpec,
    InvocationSchema,
    SchemaError,
    bundled_schema,
    fetch_schema,
    start_case,
)

# A small /openapi.json in InvokeAI's shape, one property per case the mapping handles.


@pytest.fixture(scope="module")
def tiny() -> InvocationSchema:
    return InvocationSchema.from_openapi(TINY_OPENAPI, invokeai_version="9.9.9")


# -- from_openapi -------------------------------------------------------------------------------


def test_node_attributes(tiny: InvocationSchema) -> None:
    node = tiny.node("tiny")
    assert node is not None
    assert (node.type, node.title, node.version, node.category, node.node_pack) == (
        "tiny",
        "Tiny Thing ",  # the web UI only strips the word "Invocation" from the schema title
        "1.2.3",
        "testing",
        "tiny-pack",
    )
    assert tiny.invokeai_version == "9.9.9"
    assert not {"id", "is_intermediate", "use_cache", "type"} & set(node.fields)


@pytest.mark.parametrize(
    ("field_name", "kind"),
    [
        ("text", "string"),
        ("count", "integer"),
        ("ratio", "float"),
        ("weight", "float"),  # float | list[float], like cfg_scale
        ("flag", "boolean"),
        ("mode", "enum"),
        ("only", "enum"),  # Literal["the-one"]
        ("picture", "image"),
        ("pictures", "image_collection"),
        ("board", "board"),  # field_kind "internal", as InvokeAI marks board fields
        ("model", "model"),
        ("old_model", "model"),
        ("tint", "color"),
        ("names", "string_collection"),
        ("numbers", "integer_collection"),
        ("floats", "float_collection"),
        ("switches", "object"),  # no boolean_collection kind
        ("latents", "object"),
        ("seed", "integer"),
    ],
)
def test_field_kinds(tiny: InvocationSchema, field_name: str, kind: str) -> None:
    spec = tiny.field("tiny", field_name)
    assert spec is not None and spec.kind == kind


def test_every_kind_is_a_frozen_kind() -> None:
    kinds = {f.kind for node in bundled_schema().nodes.values() for f in node.fields.values()}
    kinds |= {o.kind for node in bundled_schema().nodes.values() for o in node.outputs.values()}
    assert kinds <= set(KINDS)


def test_field_details(tiny: InvocationSchema) -> None:
    count = tiny.field("tiny", "count")
    assert count == FieldSpec(
        name="count",
        kind="integer",
        title="Count",  # no title in the schema: the web UI's start case of the name
        type_name="integer",
        has_default=True,
        default=8,
        constraints={"minimum": 0, "maximum": 64, "multiple_of": 8},
    )
    ratio = tiny.field("tiny", "ratio")
    assert ratio is not None and ratio.constraints == {"exclusive_minimum": 0, "exclusive_maximum": 1}
    weight = tiny.field("tiny", "weight")
    assert weight is not None
    assert (weight.cardinality, weight.constraints) == ("single_or_collection", {"minimum": -1, "maximum": 2})
    mode = tiny.field("tiny", "mode")
    assert mode is not None and mode.choices == ("fast", "slow")
    only = tiny.field("tiny", "only")
    assert only is not None and (only.choices, only.nullable) == (("the-one",), True)
    text = tiny.field("tiny", "text")
    assert text is not None and (text.title, text.description) == ("Text", "Some text")


def test_required_fields_have_no_default(tiny: InvocationSchema) -> None:
    picture = tiny.field("tiny", "picture")
    assert picture is not None and picture.required and not picture.has_default
    seed = tiny.field("tiny", "seed")
    assert seed is not None and not seed.required and seed.has_default and seed.default is None


def test_input_modes_and_model_hints(tiny: InvocationSchema) -> None:
    fields = tiny.node("tiny").fields  # type: ignore[union-attr]
    assert (fields["board"].input, fields["latents"].input, fields["text"].input) == ("direct", "connection", "any")
    assert fields["model"].constraints == {"model_base": ["sdxl"], "model_type": ["main"]}
    assert fields["old_model"].ui_type == "MainModelField"


def test_outputs(tiny: InvocationSchema) -> None:
    node = tiny.node("tiny")
    assert node is not None and node.output_type == "tiny_output"
    assert {name: o.kind for name, o in node.outputs.items()} == {"image": "image", "width": "integer"}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"openapi": "3.1.0"}, "not an InvokeAI OpenAPI document: it has no components.schemas"),
        (
            {"components": {"schemas": {"Pet": {"type": "object"}}}},
            'not an InvokeAI OpenAPI document: no schema has "class": "invocation"',
        ),
        (
            {"components": {"schemas": {"Bad": {"class": "invocation", "properties": {}}}}},
            "components.schemas.Bad: an invocation without a 'type' const",
        ),
    ],
)
def test_from_openapi_errors(document: dict[str, Any], message: str) -> None:
    with pytest.raises(SchemaError) as excinfo:
        InvocationSchema.from_openapi(document, invokeai_version="x")
    assert str(excinfo.value) == message


def test_start_case() -> None:
    assert [start_case(n) for n in ("cfg_scale", "num_steps", "ipAdapters", "t5_encoder")] == [
        "Cfg Scale",
        "Num Steps",
        "Ip Adapters",
        "T 5 Encoder",
    ]


# -- snapshot files -----------------------------------------------------------------------------


def test_save_and_load_round_trip(tiny: InvocationSchema, tmp_path: Path) -> None:
    path = tmp_path / "schema.json"
    tiny.save(path)
    assert InvocationSchema.load(path) == tiny
    text = path.read_text()
    assert json.loads(text)["format"] == 1
    tiny.save(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_text() == text


def test_bundled_snapshot_is_in_canonical_form(tmp_path: Path) -> None:
    """The committed file is exactly what ``save`` writes (sorted, stable): refreshes diff cleanly."""
    bundled_schema().save(tmp_path / "resaved.json")
    assert (tmp_path / "resaved.json").read_text() == BUNDLED_SNAPSHOT.read_text()
    assert BUNDLED_SNAPSHOT.stat().st_size < 500_000


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read the schema snapshot: No such file or directory"),
        ("{not json", "not valid JSON: Expecting property name enclosed in double quotes at line 1"),
        ('{"format": 99, "nodes": {}}', "not a pytest-invokeai schema snapshot of format 1 (found format 99)"),
        ("[1, 2]", "not a pytest-invokeai schema snapshot of format 1 (found format 'list')"),
    ],
)
def test_load_errors(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "schema.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SchemaError) as excinfo:
        InvocationSchema.load(path)
    assert str(excinfo.value).startswith(f"{path}: ")
    assert message in str(excinfo.value)


# -- the bundled InvokeAI 6.14.2 snapshot ---------------------------------------------------------


def test_bundled_version() -> None:
    assert bundled_schema().invokeai_version == "6.14.2"
    assert bundled_schema() is bundled_schema()  # loaded once


def test_img_noise_seed_bounds() -> None:
    seed = bundled_schema().field("img_noise", "seed")
    assert seed is not None
    # InvokeAI: seed = InputField(ge=0, le=SEED_MAX), SEED_MAX = np.iinfo(np.uint32).max
    assert (seed.kind, seed.default, seed.constraints) == ("integer", 0, {"minimum": 0, "maximum": 4294967295})


def test_denoise_latents_scheduler_choices() -> None:
    scheduler = bundled_schema().field("denoise_latents", "scheduler")
    assert scheduler is not None and scheduler.kind == "enum" and scheduler.default == "euler"
    assert scheduler.choices is not None
    assert {"ddim", "euler", "euler_a", "dpmpp_3m_k", "lcm", "tcd"} <= set(scheduler.choices)
    assert "not_a_scheduler" not in scheduler.choices


def test_cfg_scale_is_float() -> None:
    cfg = bundled_schema().field("denoise_latents", "cfg_scale")
    assert cfg is not None
    assert (cfg.kind, cfg.cardinality, cfg.default) == ("float", "single_or_collection", 7.5)


@pytest.mark.parametrize("node_type", ["l2i", "save_image", "flux_vae_decode", "img_noise"])
def test_board_fields_are_board(node_type: str) -> None:
    board = bundled_schema().field(node_type, "board")
    assert board is not None and (board.kind, board.input) == ("board", "direct")


def test_model_fields_are_model() -> None:
    model = bundled_schema().field("sdxl_model_loader", "model")
    assert model is not None
    assert (model.kind, model.required, model.constraints) == (
        "model",
        True,
        {"model_base": ["sdxl"], "model_type": ["main"]},
    )


def test_bundled_outputs() -> None:
    node = bundled_schema().node("img_noise")
    assert node is not None and node.output_type == "image_output"
    assert node.outputs["image"].kind == "image"


# -- fetching from a server ------------------------------------------------------------------------


def _mock(routes: dict[str, httpx.Response]) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: routes.get(request.url.path, httpx.Response(404)))


def test_fetch_schema_from_a_mocked_server() -> None:
    transport = _mock(
        {
            "/api/v1/app/version": httpx.Response(200, json={"version": "9.9.9"}),
            "/openapi.json": httpx.Response(200, json=TINY_OPENAPI),
        }
    )
    schema = fetch_schema("http://invokeai.test/", transport=transport)
    assert schema == InvocationSchema.from_openapi(TINY_OPENAPI, invokeai_version="9.9.9")


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        ({}, "GET http://invokeai.test/api/v1/app/version answered HTTP 404"),
        (
            {"/api/v1/app/version": httpx.Response(200, html="<html></html>")},
            "GET http://invokeai.test/api/v1/app/version answered text/html; charset=utf-8, not JSON: is this an InvokeAI server?",
        ),
        (
            {"/api/v1/app/version": httpx.Response(200, json={"name": "x"})},
            'http://invokeai.test/api/v1/app/version did not answer {"version": ...}: is this an InvokeAI server?',
        ),
    ],
)
def test_fetch_schema_server_errors(routes: dict[str, httpx.Response], message: str) -> None:
    routes = {"/openapi.json": httpx.Response(200, json=TINY_OPENAPI), **routes}
    with pytest.raises(ServerError) as excinfo:
        fetch_schema("http://invokeai.test", transport=_mock(routes))
    assert str(excinfo.value) == message


def test_fetch_schema_not_invokeai_openapi() -> None:
    transport = _mock(
        {
            "/api/v1/app/version": httpx.Response(200, json={"version": "1"}),
            "/openapi.json": httpx.Response(200, json={"openapi": "3.1.0"}),
        }
    )
    with pytest.raises(SchemaError, match=r"^http://invokeai\.test/openapi\.json: not an InvokeAI OpenAPI document"):
        fetch_schema("http://invokeai.test", transport=transport)


def test_fetch_schema_unreachable() -> None:
    with pytest.raises(ServerError, match=r"^cannot read the schema from http://127\.0\.0\.1:9: "):
        fetch_schema("http://127.0.0.1:9", timeout=5)


def test_snapshot_script_reports_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    main = _snapshot_script().main
    assert main(["--url", "http://127.0.0.1:9", "--output", str(tmp_path / "s.json")]) == 1
    assert capsys.readouterr().err.startswith("error: cannot read the schema from http://127.0.0.1:9: ")
    assert not (tmp_path / "s.json").exists()


def test_the_bundled_snapshot_built_on_demand_equals_it_built_at_once() -> None:
    from pytest_invokeai.workflow.schema import BUNDLED_SNAPSHOT, InvocationSchema, bundled_schema

    on_demand, at_once = bundled_schema(), InvocationSchema.load(BUNDLED_SNAPSHOT)
    assert type(at_once.nodes) is dict and type(on_demand.nodes) is not dict
    assert len(on_demand.nodes) == len(at_once.nodes) > 300
    assert on_demand.field("integer", "value") == at_once.field("integer", "value")
    assert on_demand.node("no_such_node") is None
    assert on_demand == at_once  # every node type, built
