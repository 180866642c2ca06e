"""The values of the web UI's generator nodes (``float_generator``, ``integer_generator``, ``string_generator``).

Generators never reach the server: the web UI computes their values in the browser when it
enqueues, and sends them as a batch node's items. We compute them the same way, number for number
(InvokeAI 6.14.2, ``features/nodes/types/field.ts``): JavaScript's float arithmetic is IEEE
double like Python's, and its seeded random numbers come from the ``mtwist`` package (a plain
MT19937 seeded with ``init_genrand``, ``random() = next uint32 / 2**32``), which :class:`Mt19937`
reproduces. What needs the server or an unseeded ``Math.random`` raises :class:`UnsupportedGenerator`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

#: ``String.prototype.trim`` removes these (ECMAScript WhiteSpace and LineTerminator); ``str.strip`` differs.
_JS_WHITESPACE = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_JS_FLOAT_PREFIX = re.compile(r"[+-]?(?:Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
_JS_INT_PREFIX = re.compile(r"[+-]?\d+")


class UnsupportedGenerator(ValueError):
    """This generator's values cannot be computed outside the browser (the message says why)."""


class Mt19937:
    """MT19937 as the ``mtwist`` npm package implements it (``new MersenneTwister(seed)``)."""

    def __init__(self, seed: int):
        state = [seed % 2**32]  # ``seed >>> 0``
        for i in range(1, 624):
            prev = state[i - 1]
            state.append((1812433253 * (prev ^ (prev >> 30)) + i) % 2**32)
        self._state = state
        self._index = 624

    def _twist(self) -> None:
        mt = self._state
        for i in range(624):
            y = (mt[i] & 0x80000000) | (mt[(i + 1) % 624] & 0x7FFFFFFF)
            mt[i] = mt[(i + 397) % 624] ^ (y >> 1) ^ (0x9908B0DF if y & 1 else 0)
        self._index = 0

    def random_uint32(self) -> int:
        if self._index >= 624:
            self._twist()
        y = self._state[self._index]
        self._index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C5680
        y ^= (y << 15) & 0xEFC60000
        y ^= y >> 18
        return y

    def random(self) -> float:
        return self.random_uint32() / 4294967296


def generator_values(node_type: str, value: Any) -> list[Any]:
    """The items a generator node yields, for its ``generator`` input value."""
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise UnsupportedGenerator(
            f"its 'generator' value should be an object with a 'type', found {json.dumps(value)}"
        )
    kind = value["type"]
    if node_type == "float_generator" and value.get("values") is not None:
        # The UI may store the values it computed (only float generators keep this key): they win.
        return list(value["values"])
    table = _GENERATORS.get(node_type)
    if table is None:
        raise UnsupportedGenerator(f"{node_type!r} generators are not supported yet (they read images from the server)")
    compute = table.get(kind)
    if compute is not None:
        items = compute(value)
        return [_js_number(x) for x in items] if node_type == "float_generator" else items
    known = ", ".join(sorted(table) + sorted(_NEEDS_SERVER.get(node_type, {})))
    if kind in _NEEDS_SERVER.get(node_type, {}):
        raise UnsupportedGenerator(f"generator type {kind!r} is not supported yet: {_NEEDS_SERVER[node_type][kind]}")
    raise UnsupportedGenerator(f"unknown generator type {kind!r} for {node_type}; known: {known}")


def _param(value: dict[str, Any], name: str, default: Any) -> Any:
    # The UI's schema fills a missing parameter with its default.
    return value.get(name, default) if value.get(name) is not None else default


def _arithmetic(default_step: float) -> Callable[[dict[str, Any]], list[Any]]:
    def compute(value: dict[str, Any]) -> list[Any]:
        start, step, count = _param(value, "start", 0), _param(value, "step", default_step), _param(value, "count", 10)
        if step == 0:
            return [start]
        return [start + i * step for i in range(count)]

    return compute


def _float_linear(value: dict[str, Any]) -> list[float]:
    start, end, count = _param(value, "start", 0), _param(value, "end", 1), _param(value, "count", 10)
    if count == 1:
        return [start]
    return [start + (end - start) * (i / (count - 1)) for i in range(count)]


def _integer_linear(value: dict[str, Any]) -> list[int]:
    start, end, count = _param(value, "start", 0), _param(value, "end", 10), _param(value, "count", 10)
    if count == 1:
        return [start]
    return [start + _js_round((end - start) * (i / (count - 1))) for i in range(count)]


def _seeded_rng(value: dict[str, Any]) -> Mt19937:
    seed = value.get("seed")
    if seed is None:
        raise UnsupportedGenerator(
            "a uniform random generator without a seed uses the browser's Math.random, which cannot be "
            "reproduced; give the generator a seed"
        )
    return Mt19937(int(seed))


def _float_uniform(value: dict[str, Any]) -> list[float]:
    low, high, count = _param(value, "min", 0), _param(value, "max", 1), _param(value, "count", 10)
    rng = _seeded_rng(value)
    return [rng.random() * (high - low) + low for _ in range(count)]


def _integer_uniform(value: dict[str, Any]) -> list[int]:
    low, high, count = _param(value, "min", 0), _param(value, "max", 10), _param(value, "count", 10)
    rng = _seeded_rng(value)
    return [math.floor(rng.random() * (high - low + 1)) + low for _ in range(count)]


def _split(value: dict[str, Any], default_input: str) -> list[str]:
    text, split_on = _param(value, "input", default_input), _param(value, "splitOn", ",")
    if split_on == "":
        return [text]
    try:
        # The UI reads the separator as the inside of a JSON string, so "\n" means a newline.
        separator = json.loads(f'"{split_on}"')
    except ValueError:
        separator = split_on
    return list(text) if separator == "" else text.split(separator)


def _float_parse(value: dict[str, Any]) -> list[float]:
    parts = (p.strip(_JS_WHITESPACE) for p in _split(value, "0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1"))
    numbers = [_js_parse_float(p) for p in parts if p]
    return [n for n in numbers if n is not None]


def _integer_parse(value: dict[str, Any]) -> list[int]:
    parts = (p.strip(_JS_WHITESPACE) for p in _split(value, "1,2,3,4,5,6,7,8,9,10"))
    numbers = [_js_parse_int(p) for p in parts if p]
    return [n for n in numbers if n is not None]


def _string_parse(value: dict[str, Any]) -> list[str]:
    return [s for s in _split(value, "foo,bar,baz,qux") if s]


def _js_number(x: float) -> float | int:
    """A JavaScript number as ``JSON.stringify`` writes it: 2.0 is ``2``."""
    return int(x) if isinstance(x, float) and x.is_integer() else x


def _js_round(x: float) -> int:
    """``Math.round``: halves go up (towards +infinity), unlike Python's ``round``."""
    floor = math.floor(x)
    return floor + 1 if x - floor >= 0.5 else floor


def _js_parse_float(text: str) -> float | None:
    """``parseFloat``: the longest number at the start of ``text`` ("3.5abc" -> 3.5), else NaN (None)."""
    match = _JS_FLOAT_PREFIX.match(text)
    if not match:
        return None
    number = float(match.group().replace("Infinity", "inf"))
    if math.isinf(number):
        raise UnsupportedGenerator(f"{text!r} parses as an infinite number, which JSON cannot carry")
    return number


def _js_parse_int(text: str) -> int | None:
    """``parseInt(text, 10)``: the digits at the start of ``text`` ("07" -> 7, "2x" -> 2), else NaN (None)."""
    match = _JS_INT_PREFIX.match(text)
    return int(match.group()) if match else None


_GENERATORS: dict[str, dict[str, Callable[[dict[str, Any]], list[Any]]]] = {
    "float_generator": {
        "float_generator_arithmetic_sequence": _arithmetic(0.1),
        "float_generator_linear_distribution": _float_linear,
        "float_generator_random_distribution_uniform": _float_uniform,
        "float_generator_parse_string": _float_parse,
    },
    "integer_generator": {
        "integer_generator_arithmetic_sequence": _arithmetic(1),
        "integer_generator_linear_distribution": _integer_linear,
        "integer_generator_random_distribution_uniform": _integer_uniform,
        "integer_generator_parse_string": _integer_parse,
    },
    "string_generator": {
        "string_generator_parse_string": _string_parse,
    },
}

_NEEDS_SERVER = {
    "string_generator": {
        "string_generator_dynamic_prompts_combinatorial": "the web UI asks the server to expand dynamic prompts",
        "string_generator_dynamic_prompts_random": "the web UI asks the server to expand dynamic prompts",
    },
}
