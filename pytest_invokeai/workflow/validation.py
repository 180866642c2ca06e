"""Pydantic models of the workflow document, built from the field tables of :mod:`.document`.

The plain reader of :mod:`.document` takes a document whose values already have their declared
types. When one does not, these models check it, as the document's models always did (they were
pydantic models): the same errors, naming the same JSON paths, and the same conversions (``"true"``
or ``1`` for a boolean). They are built on first use: a run whose workflows are well formed never
imports pydantic.
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, create_model

from pytest_invokeai.workflow.document import REQUIRED, Spec, _Open

_CONFIG = ConfigDict(extra="allow", populate_by_name=True)
_SCALARS: dict[str, Any] = {"str": str, "bool": bool, "any": Any, "dict": dict[str, Any]}


def validated(model: type[_Open], data: Any) -> dict[str, Any]:
    """``data`` checked and converted by pydantic, as plain data with the keys it was given.

    Raises pydantic's ``ValidationError`` (a ``ValueError``) naming what is wrong and where.
    """
    checked = pydantic_model(model).model_validate(data)
    return checked.model_dump(exclude_unset=True)


_BUILT: dict[str, type[BaseModel]] = {}


def pydantic_model(model: type[_Open]) -> type[BaseModel]:
    """The pydantic model with the fields, types and defaults of ``model``'s table, extra keys allowed."""
    if model.__qualname__ not in _BUILT:
        _BUILT[model.__qualname__] = _build(model)
    return _BUILT[model.__qualname__]


def _build(model: type[_Open]) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for spec in model.SPECS:
        if spec.factory is not None:
            default: Any = Field(default_factory=spec.factory)
        elif spec.default is REQUIRED:
            default = ...
        else:
            default = spec.default
        fields[spec.name] = (_annotation(spec), default)
    built: type[BaseModel] = create_model(model.__name__, __config__=_CONFIG, **fields)
    return built


def _annotation(spec: Spec) -> Any:
    if spec.kind in _SCALARS:
        annotation = _SCALARS[spec.kind]
    else:
        assert spec.model is not None
        inner = pydantic_model(spec.model)
        annotation = {"model": inner, "list": list[inner], "map": dict[str, inner]}[spec.kind]  # type: ignore[valid-type]  # built at run time
    return Optional[annotation] if spec.optional else annotation  # noqa: UP045 - the annotation is a runtime value here
