"""Build a tiny Stable Diffusion 1.5-architecture checkpoint with fixed-seed random weights.

This file runs inside InvokeAI's own Python environment (it has torch, diffusers and transformers),
like ``launcher.py`` beside it; it imports nothing from pytest-invokeai, and the plugin's side
(:mod:`.model_install`) imports it only for :data:`RECIPE_VERSION` (torch is imported lazily).
Usage: ``python tiny_sd15.py OUT_DIR``. Besides the model it writes :data:`SUMMARY_NAME` into the
folder, last: the recipe and library versions, a sha256 of the files and the hash InvokeAI will give
the model (InvokeAI hashes only weight files, so the summary does not change that hash).

Why it exists: real text-to-image on a CPU-only test server, with no download. InvokeAI probes the
folder as an SD-1 ``main`` model in diffusers format (it reads ``cross_attention_dim=768`` as SD-1)
and runs its whole pipeline on it (``main_model_loader -> compel -> noise -> denoise_latents -> l2i``)
in well under a second per 64x64 image. The images are meaningless noise-like patterns, but they are
the real pipeline's output: seed-reproducible, and different for other seeds and prompts.

Determinism: every component is initialised right after ``torch.manual_seed`` with its own seed, so
the same torch version writes byte-identical weight files. Change anything that alters the files
(sizes, seeds, vocabulary) only together with :data:`RECIPE_VERSION`, which names the cached folder.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

#: Names the cached folder, and so the model on a server. Bump it with any change to the files, and
#: re-export example_suite/workflows/sd15-text-to-image.json, which names the model and its hash.
RECIPE_VERSION = "1"
SUMMARY_NAME = "pytest-invokeai-tiny-sd15.json"

# SD-1 is recognised by the text embedding width the UNet attends to.
TEXT_WIDTH = 768
MAX_TOKENS = 77  # CLIP's context; left unset, compel pads to a huge length and overflows
LATENT_CHANNELS = 4
SEEDS = {"unet": 1, "vae": 2, "text_encoder": 3}


def _byte_symbols() -> list[str]:
    """One printable character per byte value, as CLIP's byte-level BPE spells bytes.

    Printable Latin-1 bytes stand for themselves; the others are moved to code points from 256 up,
    in byte order, so that no symbol is whitespace or a control character.
    """
    printable = set(range(ord("!"), ord("~") + 1)) | set(range(0xA1, 0xAD)) | set(range(0xAE, 0x100))
    symbols, shifted = [], 0
    for byte in range(256):
        if byte in printable:
            symbols.append(chr(byte))
        else:
            symbols.append(chr(256 + shifted))
            shifted += 1
    return symbols


def tokenizer_vocabulary() -> tuple[dict[str, int], list[str]]:
    """A vocabulary of single bytes (every text tokenizes, with no unknown tokens) and no merges."""
    symbols = _byte_symbols()
    tokens = symbols + [s + "</w>" for s in symbols] + ["<|startoftext|>", "<|endoftext|>"]
    return {token: index for index, token in enumerate(tokens)}, []


def _text_encoder(vocab: dict[str, int]) -> object:
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(SEEDS["text_encoder"])
    return CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(vocab),
            hidden_size=TEXT_WIDTH,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=MAX_TOKENS,
            bos_token_id=vocab["<|startoftext|>"],
            eos_token_id=vocab["<|endoftext|>"],
            pad_token_id=vocab["<|endoftext|>"],
        )
    )


def _unet() -> object:
    import torch
    from diffusers import UNet2DConditionModel

    torch.manual_seed(SEEDS["unet"])
    return UNet2DConditionModel(
        sample_size=8,
        in_channels=LATENT_CHANNELS,
        out_channels=LATENT_CHANNELS,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=TEXT_WIDTH,
        attention_head_dim=8,
    )


def _vae() -> object:
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(SEEDS["vae"])
    # Four blocks: three downsamplings, so latents are 1/8 of the image like SD-1.5's.
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(32, 32, 32, 32),
        layers_per_block=1,
        latent_channels=LATENT_CHANNELS,
        sample_size=64,
        scaling_factor=0.18215,
    )


def build(out_dir: Path) -> dict[str, object]:
    """Write the diffusers folder into ``out_dir`` (which must not exist yet); return a summary."""
    import torch
    from diffusers import PNDMScheduler, StableDiffusionPipeline
    from transformers import CLIPTokenizer

    if out_dir.exists():
        raise SystemExit(f"{out_dir} exists already; give a new folder")

    vocab, merges = tokenizer_vocabulary()
    tokenizer = CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=MAX_TOKENS)
    # Made in this order, each after its own seed: the weights (and so the model's hash) depend on it.
    text_encoder = _text_encoder(vocab)
    unet = _unet()
    vae = _vae()

    # SD-1.5's own scheduler settings; InvokeAI swaps in the scheduler a node asks for, with these betas.
    scheduler = PNDMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        set_alpha_to_one=False,
        skip_prk_steps=True,
        steps_offset=1,
    )

    pipeline = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipeline.save_pretrained(out_dir, safe_serialization=True)

    import diffusers
    import transformers

    files = sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file())
    for name in files:
        (out_dir / name).chmod(0o644)  # safetensors are written 0600; a server running as another user must read them
    summary = {
        "recipe": RECIPE_VERSION,
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
        "files": files,
        "sha256": content_sha256(out_dir, files),
        "invokeai_hash": _invokeai_hash(out_dir),
    }
    (out_dir / SUMMARY_NAME).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def content_sha256(folder: Path, files: list[str]) -> str:
    """One sha256 over the files' names and bytes, in the given order."""
    import hashlib

    digest = hashlib.sha256()
    for name in files:
        digest.update(name.encode() + b"\0")
        digest.update(hashlib.sha256((folder / name).read_bytes()).digest())
    return digest.hexdigest()


def _invokeai_hash(folder: Path) -> str | None:
    """The hash InvokeAI gives the folder with its default settings (``blake3_single``), if it can be had."""
    try:
        from invokeai.backend.model_hash.model_hash import ModelHash
    except ImportError:
        return None
    digest: str = ModelHash().hash(folder)
    return digest


def _torchvision_workaround() -> object:
    """Let torchvision import with a CPU-only torch (see launcher.py, which lies beside this file)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import launcher

    if launcher._torchvision_imports():
        return None
    return launcher._declare_missing_torchvision_ops()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python tiny_sd15.py OUT_DIR", file=sys.stderr)
        return 2
    keep_alive = _torchvision_workaround()  # noqa: F841 - the operator definitions live as long as this object
    build(Path(args[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
