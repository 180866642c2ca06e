"""``pytest-invokeai hash IMAGE...``: the perceptual fingerprint a baseline would store for each image."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from pytest_invokeai.baseline.fingerprint import Fingerprint, fingerprint
from pytest_invokeai.cli.common import EXIT_OK, print_json
from pytest_invokeai.errors import BaselineError

LONG_VALUE = 72  # longer values (the colour thumbnail) are shortened in the text output


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "hash",
        help="print the fingerprint of images (what a baseline stores instead of the image)",
        description=(
            "Print the perceptual fingerprint of each IMAGE (PNG, JPEG, WebP...): the values a baseline record "
            "stores for it and 'pytest-invokeai compare' measures distances between."
        ),
    )
    parser.add_argument("images", metavar="IMAGE", nargs="+", help="an image file")
    parser.add_argument("--json", action="store_true", help="print a JSON list of {path, fingerprint}")
    parser.set_defaults(handler=run)


def fingerprint_file(path: str | Path) -> Fingerprint:
    """The fingerprint of an image file; an unreadable file is a :class:`BaselineError` naming it."""
    try:
        with Image.open(path) as image:
            image.load()
            return fingerprint(image)
    except UnidentifiedImageError:
        raise BaselineError(f"{path}: not an image this tool can read (PNG, JPEG, WebP...)") from None
    except OSError as exc:  # missing, a directory, truncated...
        raise BaselineError(f"{path}: cannot read the image: {exc.strerror or exc}") from None


def stored_form(fp: Fingerprint) -> dict[str, Any]:
    """The fingerprint as a baseline record stores it."""
    stored: dict[str, Any] = json.loads(fp.to_json())
    return stored


def run(args: argparse.Namespace) -> int:
    results = [(path, fingerprint_file(path)) for path in args.images]
    if args.json:
        print_json([{"path": path, "fingerprint": stored_form(fp)} for path, fp in results])
        return EXIT_OK
    blocks = []
    for path, fp in results:
        fields = dataclasses.asdict(fp)  # declaration order: size and mode first
        width = max(map(len, fields))
        lines = [path] + [f"  {name.ljust(width)}  {_short(value)}" for name, value in fields.items()]
        blocks.append("\n".join(lines))
    print("\n\n".join(blocks))
    return EXIT_OK


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    if len(text) <= LONG_VALUE:
        return text
    return f"{text[:32]}... ({len(text)} characters; --json prints all)"
