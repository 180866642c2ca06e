"""A workflow plus a case's input values -> the body of InvokeAI's ``POST /api/v1/recall/{queue_id}``.

Fields are recognised by what they are, never by form index: the generation is the first-pass
denoising node (one with a positive-conditioning input: ``denoise_latents``, ``flux_denoise``,
``sd3_denoise``...). From there the edges lead to the rest:

- ``positive_prompt`` / ``negative_prompt``: the ``prompt`` of the encoder feeding the positive /
  negative conditioning (through ``collect`` nodes), or the ``string`` node feeding that prompt;
- ``model``: the main model of the loader at the end of the ``unet`` / ``transformer`` chain; the
  LoRA loaders on that chain give ``loras``, a ``seamless`` node ``seamless_x`` / ``seamless_y``;
- ``clip_skip``: a ``clip_skip`` node on the positive encoder's ``clip`` chain;
- ``steps`` (``num_steps``), ``cfg_scale``, ``cfg_rescale_multiplier``, ``guidance``, ``scheduler``:
  the denoising node's own fields; ``denoise_strength`` is ``1 - denoising_start`` when the node
  starts from latents (image to image);
- ``width``, ``height``, ``seed``: the denoising node's own fields (FLUX, SD3...) or the ``noise``
  node feeding it (SD-1.5, SDXL);
- ``vae_model``: a separate VAE loader (or a loader's ``vae_model`` field) feeding the decoder;
- ``control_layers``, ``ip_adapters``, ``reference_images``: ControlNet / T2I-adapter / control-LoRA
  nodes, IP-adapter / FLUX Redux nodes and FLUX Kontext nodes feeding the denoising node.

Models are sent by name (the server resolves a name to its own key). Every form input is reported
as feeding some parameters, or with the reason it does not. Nothing here talks to a server.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_invokeai.errors import InputValueError
from pytest_invokeai.recall.graphview import FieldRef, Found, GraphView, NotFound
from pytest_invokeai.workflow.form import (
    FormInput,
    collect_values,
    form_inputs,
    resolve_input,
)
from pytest_invokeai.workflow.graph import with_values
from pytest_invokeai.workflow.load import Workflow
from pytest_invokeai.workflow.schema import InvocationSchema
from pytest_invokeai.workflow.terms import BATCH_NODE_TYPES, GENERATOR_NODE_TYPES

POSITIVE_INPUTS = ("positive_conditioning", "positive_text_conditioning")
NEGATIVE_INPUTS = ("negative_conditioning", "negative_text_conditioning")
MODEL_INPUTS = ("unet", "transformer")
#: (recall parameter, denoising-node fields that hold it, first found wins)
DENOISE_SCALARS = (
    ("steps", ("steps", "num_steps")),
    ("cfg_scale", ("cfg_scale",)),
    ("cfg_rescale_multiplier", ("cfg_rescale_multiplier",)),
    ("guidance", ("guidance",)),
    ("scheduler", ("scheduler",)),
)
#: Parameters read from the denoising node, else from the ``noise`` node feeding it.
NOISE_SCALARS = ("width", "height", "seed")
CONTROL_INPUTS = ("control", "t2i_adapter", "control_lora")
IP_ADAPTER_INPUTS = ("ip_adapter", "redux_conditioning")
REFERENCE_IMAGE_INPUTS = ("kontext_conditioning",)
#: Values the recall endpoint accepts (InvokeAI 6.14.2's RecallParameter); other values would get a 422.
CONTROL_MODES = ("balanced", "more_prompt", "more_control")
IP_ADAPTER_METHODS = ("full", "style", "composition")
#: Settings of one control layer or IP adapter: key -> (node fields that hold it, first found wins; accepted values)
ADAPTER_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "weight": (("control_weight", "weight"), ()),
    "begin_step_percent": (("begin_step_percent",), ()),
    "end_step_percent": (("end_step_percent",), ()),
}
ADAPTER_CHOICE_FIELDS = {
    "control_layers": {"control_mode": (("control_mode",), CONTROL_MODES)},
    "ip_adapters": {"method": (("method",), IP_ADAPTER_METHODS)},
}
#: The order parameters are listed in (the endpoint's own order).
PARAMETER_ORDER = (
    "positive_prompt",
    "negative_prompt",
    "model",
    "refiner_model",
    "vae_model",
    "scheduler",
    "steps",
    "refiner_steps",
    "cfg_scale",
    "cfg_rescale_multiplier",
    "refiner_cfg_scale",
    "guidance",
    "width",
    "height",
    "seed",
    "denoise_strength",
    "refiner_denoise_start",
    "clip_skip",
    "seamless_x",
    "seamless_y",
    "refiner_positive_aesthetic_score",
    "refiner_negative_aesthetic_score",
    "loras",
    "control_layers",
    "ip_adapters",
    "reference_images",
)
NO_GENERATION = (
    "the workflow has no denoising node (nothing takes a positive conditioning), so it has no generation "
    "parameters the web UI could recall"
)


@dataclass(frozen=True)
class LocalImage:
    """An image input given as a file on this machine: the test run uploads it, its server name is not known here."""

    path: Path


@dataclass(frozen=True)
class InputMapping:
    """What became of one form input."""

    index: int
    name: str  # display name
    identity: str  # node_id.field
    value: Any  # the value the case ran with (JSON-safe)
    set_by_case: bool  # the case gave it (else it is the workflow's own value)
    parameters: tuple[str, ...] = ()  # recall parameters it feeds ("loras[0]" for one item of a list)
    reason: str = ""  # why it feeds none

    @property
    def mapped(self) -> bool:
        return bool(self.parameters)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "identity": self.identity,
            "value": self.value,
            "set_by_case": self.set_by_case,
            "parameters": list(self.parameters),
            "reason": self.reason,
        }


@dataclass
class RecallMapping:
    parameters: dict[str, Any]  # what the workflow maps to; body() is what is sent (local images named)
    sources: dict[str, list[FieldRef]]  # parameter ("loras[0]" for list items) -> the fields it was read from
    inputs: list[InputMapping]
    notes: list[str]  # parameters the workflow has but that could not be recalled, and why
    local_images: dict[str, Path] = field(default_factory=dict)  # "ip_adapters[0].image_name" -> file to upload
    denoise_node: str | None = None

    @property
    def is_empty(self) -> bool:
        return not self.parameters

    @property
    def unmapped(self) -> list[InputMapping]:
        return [item for item in self.inputs if not item.mapped]

    def body(self, image_names: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The request body; ``image_names`` gives the server's names of uploaded local images (by local_images key).

        A local image with no name here is left out: a control layer or IP adapter goes without its
        image, a reference image (which is nothing but its image) is left out.
        """
        body = copy.deepcopy(self.parameters)
        for key, name in (image_names or {}).items():
            if key not in self.local_images:
                raise KeyError(
                    f"{key!r} is not a local image of this mapping; its local images: {', '.join(self.local_images)}"
                )
            parameter, _, rest = key.partition("[")
            body[parameter][int(rest.split("]")[0])]["image_name"] = name
        if "reference_images" in body:
            body["reference_images"] = [entry for entry in body["reference_images"] if entry.get("image_name")]
            if not body["reference_images"]:
                del body["reference_images"]
        return body

    def origin(self, parameter: str) -> str:
        """Where a parameter came from, for people: ``#1 'Prompt'`` or ``workflow (noise:abc.seed)``."""
        refs = self.sources.get(parameter, [])
        by_field = {(item.identity.split("#")[0]): item for item in self.inputs}
        named = [by_field[str(ref)] for ref in refs if str(ref) in by_field]
        if named:
            return ", ".join(f"#{item.index} {item.name!r}" for item in named)
        return f"workflow ({', '.join(map(str, refs))})" if refs else "workflow"


def map_recall(
    workflow: Workflow, values: Mapping[int | str, Any] | None = None, *, schema: InvocationSchema | None = None
) -> RecallMapping:
    """The recall parameters of ``workflow`` run with ``values`` (keyed by form index, name or identity).

    Values are checked as a test run checks them (:class:`~pytest_invokeai.errors.InputValueError`
    naming the input); an image input may be a :class:`~pathlib.Path` (a local file).
    """
    schema = schema or workflow.schema
    inputs = form_inputs(workflow, schema)
    values = dict(values or {})
    files = {key: value for key, value in values.items() if isinstance(value, Path)}
    collected = dict(collect_values(workflow, {k: v for k, v in values.items() if k not in files}, schema))
    for key, path in files.items():
        form_input = resolve_input(inputs, key, source=workflow.source)
        if form_input.kind != "image":
            raise InputValueError(
                f"input {form_input.describe()} takes no file (it is a {form_input.kind} input), got {path}",
                source=workflow.source,
            )
        collected[(form_input.node_id, form_input.field_name)] = LocalImage(path)
    view = GraphView(with_values(workflow, collected))
    reader = _Reader(view, schema)
    denoise = _first_pass_denoise(view, reader)
    if denoise is not None:
        reader.read_generation(denoise)
    else:
        reader.notes.append(NO_GENERATION)
    set_by_case = set(collected)
    return RecallMapping(
        parameters={name: reader.parameters[name] for name in _ordered(reader.parameters)},
        sources=reader.sources,
        inputs=[_input_mapping(item, reader, view, set_by_case, denoise is not None) for item in inputs],
        notes=reader.notes,
        local_images=reader.local_images,
        denoise_node=denoise,
    )


# -- finding the generation ---------------------------------------------------------------------


def _first_pass_denoise(view: GraphView, reader: _Reader) -> str | None:
    """The denoising node no other denoising node feeds (a second pass, a refiner, comes after it)."""
    candidates = [
        node_id
        for node_id in view.order
        if view.node_type(node_id) not in BATCH_NODE_TYPES | GENERATOR_NODE_TYPES
        and any(view.has_input(node_id, name) for name in POSITIVE_INPUTS)
    ]
    first = [node_id for node_id in candidates if not (view.upstream(node_id) & set(candidates))]
    if len(candidates) > 1 and first:
        others = ", ".join(repr(c) for c in candidates if c != first[0])
        reader.notes.append(f"{len(candidates)} denoising nodes: recalled the first pass {first[0]!r}, not {others}")
    return first[0] if first else None


# -- reading parameters -------------------------------------------------------------------------


class _Reader:
    def __init__(self, view: GraphView, schema: InvocationSchema) -> None:
        self.view = view
        self.schema = schema
        self.parameters: dict[str, Any] = {}
        self.sources: dict[str, list[FieldRef]] = {}
        self.notes: list[str] = []
        self.field_reasons: dict[FieldRef, str] = {}  # a field that was read but could not be recalled
        self.local_images: dict[str, Path] = {}

    def read_generation(self, denoise: str) -> None:
        view = self.view
        encoder = self._prompt("positive_prompt", denoise, POSITIVE_INPUTS, required=True)
        self._prompt("negative_prompt", denoise, NEGATIVE_INPUTS, required=False)
        self._model_chain(denoise)
        if encoder is not None:
            self._clip_skip(encoder)
        for parameter, names in DENOISE_SCALARS:
            name = next((n for n in names if view.has_input(denoise, n)), None)
            if name is not None:
                self._scalar(parameter, denoise, name)
        noise = view.source(denoise, "noise")
        for parameter in NOISE_SCALARS:
            if view.has_input(denoise, parameter):
                self._scalar(parameter, denoise, parameter)
            elif noise is not None and view.has_input(noise[0], parameter):
                self._scalar(parameter, noise[0], parameter)
        self._denoise_strength(denoise)
        self._vae(denoise)
        self._adapters(denoise)

    # -- one value ------------------------------------------------------------------------------

    def _set(self, parameter: str, value: Any, refs: list[FieldRef]) -> None:
        self.parameters[parameter] = value
        self.sources[parameter] = refs

    def _read(self, parameter: str, node_id: str, field_name: str) -> Found | None:
        """The plain value of a field, or None (with a note) when it is computed by another node."""
        found = self.view.trace(node_id, field_name)
        if isinstance(found, NotFound):
            self._not_recalled(parameter, FieldRef(node_id, field_name), found.reason)
            return None
        return found

    def _not_recalled(self, parameter: str, ref: FieldRef, reason: str) -> None:
        self.notes.append(f"{parameter}: not recalled: {reason}")
        self.field_reasons[ref] = f"{parameter} is not recalled: {reason}"

    def _scalar(self, parameter: str, node_id: str, field_name: str) -> None:
        found = self._read(parameter, node_id, field_name)
        if found is None or found.value is None:
            return
        if isinstance(found.value, (list, dict)):
            self._not_recalled(
                parameter,
                found.ref,
                f"{found.ref} holds {type(found.value).__name__} "
                f"{_short(found.value)}, the recall parameter takes one value",
            )
            return
        self._set(parameter, found.value, [found.ref])

    # -- prompts --------------------------------------------------------------------------------

    def _prompt(self, parameter: str, denoise: str, handles: tuple[str, ...], *, required: bool) -> str | None:
        """Read the prompt feeding one conditioning input; returns the encoder node."""
        view = self.view
        handle = next((h for h in handles if view.has_input(denoise, h)), None)
        encoders = view.fan_in(denoise, handle) if handle else []
        if not encoders:
            if required and handle:
                self.notes.append(f"{parameter}: not recalled: nothing feeds {denoise}.{handle}")
            return None
        encoder = encoders[0]
        if len(encoders) > 1:
            self.notes.append(
                f"{parameter}: {len(encoders)} conditionings are collected into {denoise}.{handle}; recalled the "
                f"prompt of the first, {view.describe(encoder)}"
            )
        if not view.has_input(encoder, "prompt"):
            self.notes.append(
                f"{parameter}: not recalled: the conditioning comes from {view.describe(encoder)}, which has no prompt"
            )
            return encoder
        found = self._read(parameter, encoder, "prompt")
        if found is not None and isinstance(found.value, str):
            self._set(parameter, found.value, [found.ref])
        return encoder

    # -- models ---------------------------------------------------------------------------------

    def _model_field(self, node_id: str, model_type: str) -> str | None:
        """The node's field that holds a model of ``model_type`` (``model`` first), by the schema or the value."""
        for name in sorted(self.view.input_names(node_id), key=lambda n: n != "model"):
            spec = self.schema.field(self.view.node_type(node_id), name)
            if spec is not None:
                if spec.kind == "model" and model_type in (spec.constraints.get("model_type") or ()):
                    return name
                continue
            value = self.view.stored_value(node_id, name)
            if isinstance(value, dict) and value.get("type") == model_type:
                return name  # a node type the schema does not know (a custom node)
        return None

    def _model_chain(self, denoise: str) -> None:
        """The main model at the end of the unet/transformer chain, and the LoRAs and seamless nodes on it."""
        view = self.view
        handle = next((h for h in MODEL_INPUTS if view.has_input(denoise, h)), None)
        loras: list[tuple[Any, Any, list[FieldRef]]] = []
        for node_id, _ in view.chain(denoise, handle):
            main = self._model_field(node_id, "main")
            if main is not None:
                found = self._read("model", node_id, main)
                if found is not None:
                    name = _model_name(found.value)
                    if name:
                        self._set("model", name, [found.ref])
                break
            loras[:0] = self._loras_of(node_id)
            for axis in ("seamless_x", "seamless_y"):
                if view.has_input(node_id, axis):
                    self._scalar(axis, node_id, axis)
        if loras:
            self.parameters["loras"] = []
            for index, (name, weight, refs) in enumerate(loras):
                entry: dict[str, Any] = {"model_name": name, "is_enabled": True}
                if isinstance(weight, (int, float)) and not isinstance(weight, bool):
                    entry["weight"] = weight
                self.parameters["loras"].append(entry)
                self.sources[f"loras[{index}]"] = refs

    def _loras_of(self, node_id: str) -> list[tuple[Any, Any, list[FieldRef]]]:
        """``(name, weight, fields)`` of a LoRA loader, or of the LoRA selectors feeding a collection loader."""
        view = self.view
        if view.has_input(node_id, "lora") and self._model_field(node_id, "lora") == "lora":
            return [entry] if (entry := self._lora(node_id)) else []
        if view.has_input(node_id, "loras"):
            return [entry for selector in view.fan_in(node_id, "loras") if (entry := self._lora(selector))]
        return []

    def _lora(self, node_id: str) -> tuple[Any, Any, list[FieldRef]] | None:
        if not self.view.has_input(node_id, "lora"):
            return None
        found = self._read("loras", node_id, "lora")
        name = _model_name(found.value) if found is not None else None
        if found is None or not name:
            return None
        refs = [found.ref]
        weight = None
        if self.view.has_input(node_id, "weight"):
            weight_found = self._read("loras", node_id, "weight")
            if weight_found is not None:
                weight, refs = weight_found.value, [*refs, weight_found.ref]
        return name, weight, refs

    def _clip_skip(self, encoder: str) -> None:
        view = self.view
        for node_id, _ in view.chain(encoder, "clip"):
            if view.has_input(node_id, "skipped_layers"):
                self._scalar("clip_skip", node_id, "skipped_layers")
                return

    def _vae(self, denoise: str) -> None:
        """A VAE chosen apart from the main model: a VAE loader, or a loader's ``vae_model`` field."""
        view = self.view
        for decoder, _ in view.consumers(denoise, "latents"):
            for node_id, _ in view.chain(decoder, "vae"):
                name = self._model_field(node_id, "vae")
                if name is not None:
                    found = self._read("vae_model", node_id, name)
                    if found is not None and _model_name(found.value):
                        self._set("vae_model", _model_name(found.value), [found.ref])
                    return

    def _denoise_strength(self, denoise: str) -> None:
        view = self.view
        if not (view.has_input(denoise, "denoising_start") and view.sources(denoise, "latents")):
            return  # text to image: the strength of a start from noise is not a setting
        found = self._read("denoise_strength", denoise, "denoising_start")
        if found is not None and isinstance(found.value, (int, float)) and not isinstance(found.value, bool):
            self._set("denoise_strength", round(1 - found.value, 6), [found.ref])

    # -- adapters ---------------------------------------------------------------------------------

    def _adapters(self, denoise: str) -> None:
        view = self.view
        groups = (
            ("control_layers", CONTROL_INPUTS),
            ("ip_adapters", IP_ADAPTER_INPUTS),
            ("reference_images", REFERENCE_IMAGE_INPUTS),
        )
        for parameter, handles in groups:
            nodes = [n for h in handles if view.has_input(denoise, h) for n in view.fan_in(denoise, h)]
            entries: list[dict[str, Any]] = []
            for node_id in nodes:
                where = f"{parameter}[{len(entries)}]"
                entry, refs = (
                    self._reference_image(where, node_id)
                    if parameter == "reference_images"
                    else self._adapter(parameter, where, node_id)
                )
                if entry is not None:
                    entries.append(entry)
                    self.sources[where] = refs
            if entries:
                self.parameters[parameter] = entries

    def _adapter(self, parameter: str, where: str, node_id: str) -> tuple[dict[str, Any] | None, list[FieldRef]]:
        view = self.view
        model_field = next(
            (n for n in view.input_names(node_id) if _is_model_field(self.schema, view, node_id, n)), None
        )
        if model_field is None:
            self.notes.append(f"{parameter}: not recalled: {view.describe(node_id)} names no model")
            return None, []
        found = self._read(parameter, node_id, model_field)
        name = _model_name(found.value) if found is not None else None
        if found is None or not name:
            return None, []
        entry: dict[str, Any] = {"model_name": name}
        refs = [found.ref]
        for key, (names, choices) in {**ADAPTER_FIELDS, **ADAPTER_CHOICE_FIELDS[parameter]}.items():
            name_here = next((n for n in names if view.has_input(node_id, n)), None)
            value_found = view.trace(node_id, name_here) if name_here else None
            if not isinstance(value_found, Found) or value_found.value is None:
                continue
            value = value_found.value
            if isinstance(value, (list, dict)) or (choices and value not in choices):
                takes = " / ".join(choices) if choices else "one number"
                self._not_recalled(
                    f"{where}.{key}",
                    value_found.ref,
                    f"{value_found.ref} is {_short(value)}; the recall endpoint takes {takes}",
                )
                continue
            entry[key] = value
            refs.append(value_found.ref)
        image_ref = self._image(where, node_id, entry)
        return entry, refs + image_ref

    def _reference_image(self, where: str, node_id: str) -> tuple[dict[str, Any] | None, list[FieldRef]]:
        entry: dict[str, Any] = {}
        refs = self._image(where, node_id, entry)
        return (entry, refs) if refs else (None, [])

    def _image(self, where: str, node_id: str, entry: dict[str, Any]) -> list[FieldRef]:
        """Put the node's image into ``entry`` (a local file is listed in local_images instead)."""
        if not self.view.has_input(node_id, "image"):
            return []
        found = self.view.trace(node_id, "image")
        if isinstance(found, NotFound):
            self.notes.append(f"{where}.image_name: not recalled: {found.reason}")
            return []
        value = found.value
        if isinstance(value, list):
            if len(value) > 1:
                self.notes.append(f"{where}.image_name: {found.ref} holds {len(value)} images; recalled the first")
            value = value[0] if value else None
        if isinstance(value, LocalImage):
            self.local_images[f"{where}.image_name"] = value.path
        elif isinstance(value, dict) and isinstance(value.get("image_name"), str):
            entry["image_name"] = value["image_name"]
        else:
            return []
        return [found.ref]


# -- helpers ------------------------------------------------------------------------------------


def _is_model_field(schema: InvocationSchema, view: GraphView, node_id: str, name: str) -> bool:
    spec = schema.field(view.node_type(node_id), name)
    if spec is not None:
        return spec.kind == "model"
    value = view.stored_value(node_id, name)
    return isinstance(value, dict) and {"key", "name", "type"} <= set(value)


def _model_name(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("name"), str) and value["name"].strip():
        return str(value["name"])
    if isinstance(value, str) and value.strip():
        return value
    return None


def _ordered(parameters: Mapping[str, Any]) -> list[str]:
    return sorted(
        parameters, key=lambda name: PARAMETER_ORDER.index(name) if name in PARAMETER_ORDER else len(PARAMETER_ORDER)
    )


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _input_mapping(
    item: FormInput, reader: _Reader, view: GraphView, set_by_case: set[tuple[str, str]], generation: bool
) -> InputMapping:
    ref = FieldRef(item.node_id, item.field_name)
    fed = tuple(name for name, refs in reader.sources.items() if ref in refs)
    # A list parameter is named by its items ("loras[0]"); the list itself is not repeated.
    value = view.stored_value(item.node_id, item.field_name)
    value = {"file": str(value.path)} if isinstance(value, LocalImage) else value
    reason = "" if fed else _why_not(item, ref, reader, generation)
    return InputMapping(
        index=item.index,
        name=item.display_name,
        identity=item.identity,
        value=value,
        set_by_case=(item.node_id, item.field_name) in set_by_case,
        parameters=fed,
        reason=reason,
    )


def _why_not(item: FormInput, ref: FieldRef, reader: _Reader, generation: bool) -> str:
    if ref in reader.field_reasons:
        return reader.field_reasons[ref]
    if not generation:
        return "the workflow has no denoising node: nothing in it maps to recall parameters"
    if not item.settable:
        return item.unsettable_reason
    if item.kind == "board":
        return "the board images are saved to is not a recall parameter"
    if item.kind == "model":
        types = item.constraints.get("model_type") or ["this kind of"]
        return f"the recall endpoint has no parameter for a {'/'.join(types)} model"
    if item.kind in ("image", "image_collection"):
        return "the recall endpoint takes images only for control layers, IP adapters and reference images"
    return f"no recall parameter corresponds to {item.node_type}.{item.field_name} (it does not feed the generation's settings)"
