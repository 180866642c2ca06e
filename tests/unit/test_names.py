"""File names from node ids and test ids: portable, readable, collision-free."""

from __future__ import annotations

import pytest

from pytest_invokeai._util.names import MAX_STEM, safe_stem


def test_plain_ids_stay_as_they_are() -> None:
    assert safe_stem("save_image-1.v2") == "save_image-1.v2"


@pytest.mark.parametrize(
    "identifier",
    ["canvas_output:JbPTiAJ26r", "test_x[prompt=a/b]", "../../etc/passwd", "a\\b", 'q"uote<>|?*', "sp ace", "ü"],
)
def test_unsafe_characters_are_replaced_and_marked_with_a_hash(identifier: str) -> None:
    stem = safe_stem(identifier)
    assert all((c.isalnum() and c.isascii()) or c in "._-=,+@[]" for c in stem), stem
    assert "/" not in stem and "\\" not in stem and not stem.startswith(".")
    assert stem.rsplit("-", 1)[1] and len(stem.rsplit("-", 1)[1]) == 8


def test_ids_that_differ_only_in_replaced_characters_do_not_collide() -> None:
    assert safe_stem("node:a") != safe_stem("node/a") != safe_stem("node_a")
    assert safe_stem("node_a") == "node_a"


def test_windows_reserved_names_are_avoided() -> None:
    assert safe_stem("CON").upper() != "CON"
    assert not safe_stem("nul.png").upper().startswith("NUL")


def test_long_ids_are_cut_but_stay_distinct() -> None:
    a, b = safe_stem("x" * 300 + "a"), safe_stem("x" * 300 + "b")
    assert len(a) <= MAX_STEM + 9 and a != b


def test_a_parametrized_test_id_stays_as_it_is() -> None:
    # Brackets, "=" and "," are legal on Windows, macOS and Linux: the name reads like the test id.
    assert safe_stem("test_noise[Value=1-Radius=0]") == "test_noise[Value=1-Radius=0]"
    assert safe_stem("test_x[a,b+c@d]") == "test_x[a,b+c@d]"
