"""Parse and check one value for one form input, by the input's kind.

Text (from a command line, an ini file, a parametrize id) is parsed by kind: a prompt ``"1984"``
stays a string, ``"7"`` for a float is ``7.0``, JSON is used only where a value has structure
(models, colors, collections, objects). Python values are checked, never coerced across types
(``True`` is not an integer, ``"7"`` is not a float).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pytest_invokeai.errors import InputValueError

if TYPE_CHECKING:
    from pytest_invokeai.workflow.form import FormInput

BOARD_KEYWORDS = ("auto", "none")  # besides a board id: "auto" = the UI's auto-add board, "none" = uncategorized
_INTEGER_TEXT = re.compile(r"^[+-]?\d+$")
_HEX_COLOR = re.compile(r"^#([0-9a-fA-F]{6})([0-9a-fA-F]{2})?$")
_COLOR_CHANNELS = ("r", "g", "b", "a")
_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "float": "a number",
    "boolean": "a boolean",
}


class _Invalid(ValueError):
    """Why a value is not valid; turned into an :class:`InputValueError` naming the input."""


def parse_value(form_input: FormInput, raw: Any, *, source: str | None = None) -> Any:
    """The value to send for ``form_input``: ``raw`` parsed (if text) and checked.

    Raises :class:`InputValueError` naming the input, the value, and what would be valid.
    """
    try:
        value = _from_text(form_input, raw) if isinstance(raw, str) else raw
        return _check(form_input, value)
    except _Invalid as exc:
        raise InputValueError(f"input {form_input.describe()}: {exc}", source=source) from None


# -- text -------------------------------------------------------------------------------------


def _from_text(form_input: FormInput, text: str) -> Any:
    kind = form_input.kind
    if kind == "string":
        return text
    stripped = text.strip()
    if stripped == "null" and form_input.nullable:
        return None
    if form_input.cardinality == "single_or_collection" and stripped.startswith("["):
        return _json(stripped, "a JSON list")
    if kind == "integer":
        if not _INTEGER_TEXT.match(stripped):
            raise _Invalid(f"expected an integer, got {text!r}")
        return int(stripped)
    if kind == "float":
        try:
            return float(stripped)
        except ValueError:
            raise _Invalid(f"expected a number, got {text!r}") from None
    if kind == "boolean":
        if stripped.lower() not in ("true", "false"):
            raise _Invalid(f"expected true or false, got {text!r}")
        return stripped.lower() == "true"
    if kind == "enum":
        for choice in form_input.constraints.get("choices", ()):
            if str(choice) == stripped:
                return choice
        return stripped  # not a choice: _check says which ones are
    if kind == "image" and not stripped.startswith("{"):
        return stripped  # an image name
    if kind == "board" and not stripped.startswith("{"):
        return stripped  # "auto", "none" or a board id
    if kind == "color" and stripped.startswith("#"):
        return _hex_color(stripped)
    return _json(stripped, "JSON")


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Invalid(f"expected {what}, got {text!r} ({exc.msg} at column {exc.colno})") from None


def _hex_color(text: str) -> dict[str, int]:
    match = _HEX_COLOR.match(text)
    if not match:
        raise _Invalid(f'expected a color as #rrggbb, #rrggbbaa or JSON {{"r", "g", "b", "a"}}, got {text!r}')
    digits = match.group(1) + (match.group(2) or "ff")
    return {channel: int(digits[i * 2 : i * 2 + 2], 16) for i, channel in enumerate(_COLOR_CHANNELS)}


# -- checks -----------------------------------------------------------------------------------


def _check(form_input: FormInput, value: Any) -> Any:
    if value is None:
        if form_input.required:
            raise _Invalid("a value is required (got None)")
        if not form_input.nullable:
            raise _Invalid("cannot be None")
        return None
    if form_input.cardinality == "single_or_collection" and isinstance(value, list):
        return [_check_single(form_input, item) for item in value]
    return _check_single(form_input, value)


def _check_single(form_input: FormInput, value: Any) -> Any:
    kind, constraints = form_input.kind, form_input.constraints
    if kind == "string":
        return _expect(value, str, kind)
    if kind == "integer":
        return _check_bounds(_integer(value), constraints)
    if kind == "float":
        return _check_bounds(_number(value), constraints)
    if kind == "boolean":
        return _expect(value, bool, kind)
    if kind == "enum":
        return _choice(value, constraints.get("choices"))
    if kind == "image":
        return _image(value)
    if kind == "image_collection":
        return [_image(item) for item in _list(value)]
    if kind == "board":
        return _board(value)
    if kind == "color":
        return _color(value)
    if kind == "model":
        return _model(value, constraints)
    if kind == "string_collection":
        return [_expect(item, str, "string") for item in _list(value)]
    if kind == "integer_collection":
        return [_integer(item) for item in _list(value)]
    if kind == "float_collection":
        return [_number(item) for item in _list(value)]
    try:  # object: anything the server can receive
        json.dumps(value)
    except (TypeError, ValueError):
        raise _Invalid(f"expected a JSON value, got {type(value).__name__} {value!r}") from None
    return value


def _expect(value: Any, expected: type, kind: str) -> Any:
    if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
        raise _Invalid(f"expected {_TYPE_WORDS[kind]}, got {type(value).__name__} {value!r}")
    return value


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(f"expected an integer, got {type(value).__name__} {value!r}")
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Invalid(f"expected a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise _Invalid(f"expected a finite number, got {value!r}")
    return float(value)


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _Invalid(f"expected a list, got {type(value).__name__} {value!r}")
    return value


def _check_bounds(value: int | float, constraints: dict[str, Any]) -> int | float:
    tests: tuple[tuple[str, str, Callable[[Any, Any], bool]], ...] = (
        ("minimum", ">=", lambda v, b: v >= b),
        ("exclusive_minimum", ">", lambda v, b: v > b),
        ("maximum", "<=", lambda v, b: v <= b),
        ("exclusive_maximum", "<", lambda v, b: v < b),
    )
    present = [(op, constraints[key], test) for key, op, test in tests if key in constraints]
    if not all(test(value, bound) for _, bound, test in present):
        rule = " and ".join(f"{op} {bound}" for op, bound, _ in present)
        raise _Invalid(f"{value!r} is out of bounds: must be {rule}")
    step = constraints.get("multiple_of")
    if step and not _is_multiple(value, step):
        raise _Invalid(f"{value!r} is not a multiple of {step}")
    return value


def _is_multiple(value: int | float, step: int | float) -> bool:
    if isinstance(value, int) and isinstance(step, int):
        return value % step == 0
    quotient = value / step
    return math.isclose(quotient, round(quotient), rel_tol=0, abs_tol=1e-9)


def _choice(value: Any, choices: list[Any] | None) -> Any:
    if choices is not None and not any(value == c and type(value) is type(c) for c in choices):
        raise _Invalid(f"{value!r} is not one of the choices: {', '.join(map(str, choices))}")
    return value


def _image(value: Any) -> dict[str, Any]:
    if isinstance(value, str) and value:
        return {"image_name": value}
    if isinstance(value, dict) and isinstance(value.get("image_name"), str) and value["image_name"]:
        return value
    raise _Invalid(f'expected an image name or {{"image_name": ...}}, got {value!r}')


def _board(value: Any) -> Any:
    if value in BOARD_KEYWORDS:
        return value
    if isinstance(value, str) and value:
        return {"board_id": value}
    if isinstance(value, dict) and isinstance(value.get("board_id"), str) and value["board_id"]:
        return value
    raise _Invalid(f'expected "auto", "none", a board id or {{"board_id": ...}}, got {value!r}')


def _color(value: Any) -> dict[str, int]:
    if not isinstance(value, dict) or set(value) != set(_COLOR_CHANNELS):
        raise _Invalid(f'expected a color {{"r", "g", "b", "a"}} (or #rrggbb text), got {value!r}')
    for channel in _COLOR_CHANNELS:
        component = value[channel]
        if isinstance(component, bool) or not isinstance(component, int) or not 0 <= component <= 255:
            raise _Invalid(f"color component {channel!r} must be an integer from 0 to 255, got {component!r}")
    return value


def _model(value: Any, constraints: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("key"), str):
        raise _Invalid(
            'expected a model as JSON {"key", "hash", "name", "base", "type"} '
            f"(as listed by /api/v2/models/), got {value!r}"
        )
    for attribute in ("base", "type"):
        accepted = constraints.get(f"model_{attribute}")
        if accepted and attribute in value and value[attribute] not in accepted:
            raise _Invalid(
                f"model {value.get('name', value['key'])!r} has {attribute} {value[attribute]!r}; "
                f"this input takes {attribute} {', '.join(accepted)}"
            )
    return value
