"""Model field values, matched to the models installed on the server.

A workflow exported on one machine names its models by ``{key, hash, name, base, type}``; the key is
that machine's own and will not exist on another. :class:`InstalledModels` matches a value to an
installed model, in this order: by key, else by hash (the same file installed here), else by name,
base and type, else by name alone when exactly one installed model has it. A value may also be just a
name. The answer is always the server's own identifier ``{key, hash, name, base, type}``.

A model that is not installed raises :class:`ModelNotInstalledError`, so a suite can skip or fail on
it by choice; :func:`missing_models` lists every such model of a workflow before anything is enqueued.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

from pytest_invokeai.errors import InputValueError, ServerError
from pytest_invokeai.server import api
from pytest_invokeai.server.client import InvokeAIClient
from pytest_invokeai.workflow.document import Node
from pytest_invokeai.workflow.load import Workflow
from pytest_invokeai.workflow.schema import InvocationSchema

IDENTIFIER_KEYS = ("key", "hash", "name", "base", "type")
LISTED_MAX = 20  # installed models named in a message; more would bury the point

FieldKey = tuple[str, str]  # (node_id, field_name)


class ModelNotInstalledError(ServerError):
    """A model a workflow or a case needs is not installed on the server."""

    def __init__(
        self,
        message: str,
        *,
        model_name: str,
        base: str | None,
        type: str | None,
        installed: tuple[str, ...],
        node_id: str | None = None,
        field_name: str | None = None,
    ) -> None:
        super().__init__(message)
        self.model_name = model_name
        self.base = base
        self.type = type
        self.installed = installed  # names of the installed models of that base and type
        self.node_id = node_id
        self.field_name = field_name


class AmbiguousModelError(ServerError):
    """A model name matches several installed models and nothing in the value tells which one is meant."""


class InstalledModels:
    """The models installed on one server (one ``GET /api/v2/models/``), and the matching rules."""

    def __init__(self, configs: Iterable[Mapping[str, Any]], *, where: str) -> None:
        self.configs = [dict(c) for c in configs if isinstance(c, Mapping) and isinstance(c.get("key"), str)]
        self.where = where  # "InvokeAI at http://...", for messages

    @classmethod
    def fetch(cls, client: InvokeAIClient) -> InstalledModels:
        return cls(client.send(api.models()), where=f"InvokeAI at {client.base_url}")

    def resolve(
        self,
        value: Any,
        *,
        bases: Iterable[str] | None = None,
        types: Iterable[str] | None = None,
        field: FieldKey | None = None,
    ) -> dict[str, Any]:
        """The server's identifier for ``value`` (a model name, or an identifier from any machine).

        ``bases``/``types`` (a field's accepted model bases and types) narrow a match by name; ``field``
        names the workflow field in messages. Raises :class:`ModelNotInstalledError` or :class:`AmbiguousModelError`.
        """
        wanted = _wanted(value, field)
        name, base, type_ = wanted["name"], wanted.get("base"), wanted.get("type")
        by_key = [c for c in self.configs if wanted.get("key") and c["key"] == wanted["key"]]
        if by_key:
            return identifier(by_key[0])
        by_hash = [c for c in self.configs if wanted.get("hash") and c.get("hash") == wanted["hash"]]
        if by_hash:
            # The same file installed twice: prefer the copy that also matches by name, then the smallest key (stable).
            return identifier(min(by_hash, key=lambda c: (c.get("name") != name, c["key"])))
        if base and type_:
            exact = [c for c in self.configs if (c.get("name"), c.get("base"), c.get("type")) == (name, base, type_)]
            if exact:
                return identifier(self._one(exact, name, field))
        named = [c for c in self.configs if c.get("name") == name]
        accepted_bases, accepted_types = set(bases or ()), set(types or ())
        if len(named) > 1 and (accepted_bases or accepted_types):
            named = [
                c
                for c in named
                if (not accepted_bases or c.get("base") in accepted_bases)
                and (not accepted_types or c.get("type") in accepted_types)
            ] or named
        if named:
            return identifier(self._one(named, name, field))
        raise self._not_installed(name, base, type_, accepted_bases, accepted_types, field)

    def _one(self, matches: list[dict[str, Any]], name: str, field: FieldKey | None) -> dict[str, Any]:
        if len(matches) == 1:
            return matches[0]
        listed = "; ".join(
            f"{c.get('base')} {c.get('type')} (key {c['key']})" for c in sorted(matches, key=lambda c: c["key"])
        )
        raise AmbiguousModelError(
            f"{_where_field(field)}model name {name!r} matches {len(matches)} models installed on {self.where}: {listed}; "
            "give the model's key, or its base and type, to choose one"
        )

    def _not_installed(
        self, name: str, base: str | None, type_: str | None, bases: set[str], types: set[str], field: FieldKey | None
    ) -> ModelNotInstalledError:
        want_bases = {base} if base else bases
        want_types = {type_} if type_ else types
        alike = sorted(
            {
                str(c.get("name"))
                for c in self.configs
                if (not want_bases or c.get("base") in want_bases) and (not want_types or c.get("type") in want_types)
            }
        )
        kind = " ".join(part for part in (_either(want_bases), _either(want_types)) if part)
        what = f"model {name!r}" + (f" ({kind})" if kind else "")
        if alike:
            shown = ", ".join(alike[:LISTED_MAX]) + (
                f" and {len(alike) - LISTED_MAX} more" if len(alike) > LISTED_MAX else ""
            )
            installed_text = f"installed {kind + ' ' if kind else ''}models: {shown}"
        else:
            installed_text = f"no {kind + ' ' if kind else ''}model is installed there"
        return ModelNotInstalledError(
            f"{_where_field(field)}{what} is not installed on {self.where}; {installed_text}",
            model_name=name,
            base=base or _single(want_bases),
            type=type_ or _single(want_types),
            installed=tuple(alike),
            node_id=field[0] if field else None,
            field_name=field[1] if field else None,
        )


def identifier(config: Mapping[str, Any]) -> dict[str, Any]:
    """A model identifier field value, as the server expects it, from an installed model's config."""
    return {k: config.get(k) for k in IDENTIFIER_KEYS}


def missing_models(
    models: InvokeAIClient | InstalledModels, workflow: Workflow, *, schema: InvocationSchema | None = None
) -> list[ModelNotInstalledError]:
    """One error per model field of the workflow whose model is not installed (in node order).

    Fields fed by an edge are skipped: the graph ignores their stored value. A name that matches several
    installed models raises :class:`AmbiguousModelError` (that is a problem to fix, not a missing model).
    """
    installed = _installed(models)
    schema = schema or workflow.schema
    missing = []
    for (node_id, field_name), value in workflow_model_values(workflow, schema=schema).items():
        node_type = cast(Node, workflow.node(node_id)).data.type  # the id comes from this workflow's own nodes
        for one in value if isinstance(value, list) else [value]:
            try:
                installed.resolve(one, **_hints(schema, node_type, field_name), field=(node_id, field_name))
            except ModelNotInstalledError as exc:
                missing.append(exc)
    return missing


def workflow_model_values(workflow: Workflow, *, schema: InvocationSchema | None = None) -> dict[FieldKey, Any]:
    """The model values stored in the workflow's nodes, in node order.

    Fields fed by an edge are left out: the graph ignores their stored value.
    """
    schema = schema or workflow.schema
    fed = {(e.target, e.targetHandle) for e in workflow.document.edges if e.type == "default"}
    return {
        (node.id, field_name): field_instance.value
        for node in workflow.nodes
        if node.is_invocation
        for field_name, field_instance in node.data.inputs.items()
        if field_instance.value is not None
        and (node.id, field_name) not in fed
        and _is_model_field(schema, node.data.type, field_name)
    }


def resolve_models_in_values(
    models: InvokeAIClient | InstalledModels,
    workflow: Workflow,
    values: Mapping[FieldKey, Any],
    *,
    schema: InvocationSchema | None = None,
) -> dict[FieldKey, Any]:
    """A copy of ``values`` whose model field values are the server's identifiers; other values are left alone.

    Keys that name no node of the workflow are left alone too (checking them is the form's job).
    Keys of an identifier beyond the five (``submodel_type``) are kept.
    """
    installed = _installed(models)
    schema = schema or workflow.schema
    resolved: dict[FieldKey, Any] = {}
    for (node_id, field_name), value in values.items():
        node = workflow.node(node_id)
        if value is None or node is None or not _is_model_field(schema, node.data.type, field_name):
            resolved[(node_id, field_name)] = value
            continue
        hints = _hints(schema, node.data.type, field_name)

        def one(item: Any) -> Any:
            # B023 waived below: `one` is called only in this iteration of the loop, so it sees this iteration's values.
            found = installed.resolve(item, **hints, field=(node_id, field_name))  # noqa: B023
            extra = {k: v for k, v in item.items() if k not in IDENTIFIER_KEYS} if isinstance(item, Mapping) else {}
            return {**extra, **found}

        resolved[(node_id, field_name)] = [one(v) for v in value] if isinstance(value, list) else one(value)
    return resolved


# -- helpers ----------------------------------------------------------------------------------


def _installed(models: InvokeAIClient | InstalledModels) -> InstalledModels:
    return models if isinstance(models, InstalledModels) else InstalledModels.fetch(models)


def _is_model_field(schema: InvocationSchema, node_type: str, field_name: str) -> bool:
    spec = schema.field(node_type, field_name)
    return spec is not None and spec.kind == "model"


def _hints(schema: InvocationSchema, node_type: str, field_name: str) -> dict[str, list[str] | None]:
    spec = schema.field(node_type, field_name)
    constraints = spec.constraints if spec is not None else {}
    return {"bases": constraints.get("model_base"), "types": constraints.get("model_type")}


def _wanted(value: Any, field: FieldKey | None) -> dict[str, Any]:
    if isinstance(value, str) and value.strip():
        return {"name": value}
    if isinstance(value, Mapping) and isinstance(value.get("name"), str) and value["name"].strip():
        return {k: value.get(k) for k in IDENTIFIER_KEYS if isinstance(value.get(k), str) and value.get(k)}
    raise InputValueError(
        f"{_where_field(field)}a model value is a model name or an identifier "
        f"{{key, hash, name, base, type}} with a non-empty name; got {value!r}"
    )


def _where_field(field: FieldKey | None) -> str:
    return f"node {field[0]!r} field {field[1]!r}: " if field else ""


def _either(values: set[str]) -> str:
    return "/".join(sorted(values))


def _single(values: set[str]) -> str | None:
    return next(iter(values)) if len(values) == 1 else None
