"""The tiny SD-1.5 checkpoint: built once, deterministically, and installed into a real server."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import require

from pytest_invokeai.errors import ServerError
from pytest_invokeai.local.install import installed_python
from pytest_invokeai.local.invokeai_side.tiny_sd15 import SUMMARY_NAME
from pytest_invokeai.local.model_install import (
    TINY_SD15_NAME,
    ensure_tiny_sd15,
    install_model,
    read_summary,
)
from pytest_invokeai.server import api
from pytest_invokeai.server.client import InvokeAIClient


@pytest.fixture(scope="module")
def invokeai_python() -> Path:
    python = installed_python()
    require(python is not None, "InvokeAI is not installed (python -m pytest_invokeai.server.install)")
    return python


@pytest.fixture(scope="module")
def tiny_sd15(invokeai_python: Path) -> Path:
    return ensure_tiny_sd15(invokeai_python=invokeai_python)


@pytest.fixture
def client(invokeai_server_url: str) -> Iterator[InvokeAIClient]:
    with InvokeAIClient(invokeai_server_url) as c:
        yield c


def _file_digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# -- building ------------------------------------------------------------------------------


def test_the_folder_is_a_diffusers_sd15_pipeline(tiny_sd15: Path):
    assert tiny_sd15.name == TINY_SD15_NAME
    for part in (
        "model_index.json",
        "unet/config.json",
        "text_encoder/config.json",
        "tokenizer/tokenizer_config.json",
        "vae/config.json",
        "scheduler/scheduler_config.json",
    ):
        assert (tiny_sd15 / part).is_file(), part
    weights = sum(p.stat().st_size for p in tiny_sd15.rglob("*.safetensors"))
    assert 10_000_000 < weights < 60_000_000  # tiny: about 28 MB


def test_a_second_build_writes_the_same_bytes(tiny_sd15: Path, invokeai_python: Path, tmp_path: Path):
    # A leftover folder without a build summary (an interrupted copy) is not trusted: it is rebuilt.
    leftover = tmp_path / TINY_SD15_NAME
    leftover.mkdir()
    (leftover / "half-written.safetensors").write_bytes(b"junk")

    rebuilt = ensure_tiny_sd15(tmp_path, invokeai_python=invokeai_python)

    assert rebuilt == leftover
    assert not (rebuilt / "half-written.safetensors").exists()
    assert _file_digests(rebuilt) == _file_digests(tiny_sd15)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".") and p.is_dir()] == []  # no staging left


def test_a_complete_folder_is_reused_without_building(tiny_sd15: Path, tmp_path: Path):
    copy = tmp_path / TINY_SD15_NAME
    shutil.copytree(tiny_sd15, copy)
    # A Python that does not exist proves that nothing is run.
    assert ensure_tiny_sd15(tmp_path, invokeai_python=tmp_path / "no-python") == copy


def test_a_summary_of_another_recipe_is_not_trusted(tiny_sd15: Path, tmp_path: Path):
    copy = tmp_path / TINY_SD15_NAME
    shutil.copytree(tiny_sd15, copy)
    summary = (copy / SUMMARY_NAME).read_text()
    (copy / SUMMARY_NAME).write_text(summary.replace('"recipe": "', '"recipe": "old-'))
    assert read_summary(copy) is None
    assert read_summary(tiny_sd15) is not None


# -- installing ----------------------------------------------------------------------------


def test_install_lists_as_sd1_main_and_again_is_a_no_op(client: InvokeAIClient, tiny_sd15: Path):
    first = install_model(client, tiny_sd15)
    jobs_before = [j for j in client.send(api.model_install_jobs()) if j.get("local_path") == str(tiny_sd15)]

    again = install_model(client, tiny_sd15)

    jobs_after = [j for j in client.send(api.model_install_jobs()) if j.get("local_path") == str(tiny_sd15)]
    assert again["key"] == first["key"]
    assert len(jobs_after) == len(jobs_before)  # no second install job
    listed = [m for m in client.send(api.models()) if m["key"] == first["key"]]
    assert len(listed) == 1
    model = listed[0]
    assert (model["base"], model["type"], model["format"]) == ("sd-1", "main", "diffusers")
    assert model["hash"].startswith("blake3:")
    # The builder predicts InvokeAI's hash, so a checkpoint installed elsewhere is recognised by content.
    assert model["hash"] == read_summary(tiny_sd15)["invokeai_hash"]


def test_a_folder_that_is_no_model_fails_with_the_servers_reason(client: InvokeAIClient, tmp_path: Path):
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    with pytest.raises(ServerError, match=r"could not install the model in .*not-a-model: No model files"):
        install_model(client, empty, timeout=60)


def test_a_missing_folder_is_refused(client: InvokeAIClient, tmp_path: Path):
    with pytest.raises(ServerError, match=r"refused to install the model in .*nowhere.*Unsupported model source"):
        install_model(client, tmp_path / "nowhere")
