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
    """Import torchvision now; False when it fails for the missing operators (then nothing of it stays loaded).

    Asking ``torch.ops`` before the import cannot tell: a working torchvision (one built for the installed
    torch, as InvokeAI 6.13.0's torch 2.7.1 pair is) registers its operators only when it is imported, and
    declaring them first would make that import abort.
    """
    try:
        import torchvision  # noqa: F401 - importing is the check
    except ModuleNotFoundError:
        return True
    except RuntimeError as exc:
        if "torchvision::nms" not in str(exc):
            raise
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        return False
    return True


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
