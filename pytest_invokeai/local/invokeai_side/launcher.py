"""Start InvokeAI's web server (``invokeai-web``), working around a CPU-only torchvision mismatch.

This file runs inside InvokeAI's own Python environment, not the plugin's: it imports nothing
from pytest-invokeai. Usage: ``python launcher.py --root DIR``.

Why it exists: with a CPU build of torch, the registry's torchvision wheel (a CUDA build) fails
on import with ``RuntimeError: operator torchvision::nms does not exist``, because its
``_meta_registrations`` registers fake kernels for ``nms``/``qnms`` without checking that the
operators were compiled in. InvokeAI imports torchvision (through transformers and diffusers),
so it dies at start-up. Declaring the two operator schemas first lets torchvision import.
The model-free nodes and the diffusion pipeline never call these operators. The shim is applied
only when the operators are really missing.
"""

from __future__ import annotations

import sys


def _torchvision_imports() -> bool:
    import importlib.util

    if importlib.util.find_spec("torchvision") is None:
        return True
    import torch

    try:
        torch.ops.torchvision.nms  # noqa: B018 - attribute access is the check
        return True
    except (AttributeError, RuntimeError):
        return False


def _declare_missing_torchvision_ops() -> object:
    import torch

    library = torch.library.Library("torchvision", "DEF")
    library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    library.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    return library  # the caller keeps it alive: the definitions vanish with the object


def main() -> None:
    keep_alive = None
    if not _torchvision_imports():
        keep_alive = _declare_missing_torchvision_ops()
    from invokeai.app.run_app import run_app

    sys.argv = ["invokeai-web", *sys.argv[1:]]
    try:
        run_app()
    finally:
        del keep_alive


if __name__ == "__main__":
    main()
