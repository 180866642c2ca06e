"""``pytest-invokeai compare BASELINE ACTUAL``: the distances and verdict a test would get for one image."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from pytest_invokeai.baseline.compare import Thresholds, compare
from pytest_invokeai.baseline.fingerprint import Fingerprint
from pytest_invokeai.baseline.record import BaselineRecord
from pytest_invokeai.cli.common import (
    EXIT_CHECK_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    print_error,
    print_json,
)
from pytest_invokeai.cli.hash import fingerprint_file
from pytest_invokeai.errors import BaselineError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare an image with a baseline (an image or a baseline record) the way a test does",
        description=(
            "Compare ACTUAL with BASELINE and print each signal's distance, its threshold and the verdict. "
            "BASELINE is an image or a baseline record .json; a record holding several outputs needs --output, "
            "an output holding several images needs --image. Exit 0 on a match, 1 on a mismatch, 2 on bad input."
        ),
    )
    parser.add_argument("baseline", metavar="BASELINE", help="an image (PNG, JPEG, WebP...) or a baseline record .json")
    parser.add_argument("actual", metavar="ACTUAL", help="the image to check")
    parser.add_argument(
        "--threshold",
        dest="thresholds",
        metavar="NAME=VALUE",
        action="append",
        type=parse_threshold,
        default=[],
        help=f"override one threshold (repeatable); names: {', '.join(Thresholds.names())}",
    )
    parser.add_argument(
        "--output", metavar="NODE", help="the output node (id or label) of a record with several outputs"
    )
    parser.add_argument(
        "--image", metavar="N", type=int, help="the image index (from 0) of an output with several images"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print JSON: {match, distances, thresholds, failed, identical, size_mismatch, explanation, baseline, actual}",
    )
    parser.set_defaults(handler=run)


def parse_threshold(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. {Thresholds.names()[0]}=20), got {text!r}")
    try:
        return name.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"threshold {name.strip()!r}: {value!r} is not a number") from None


@dataclass(frozen=True)
class BaselineImage:
    fingerprint: Fingerprint
    description: str  # where it came from, for the output
    output: str | None = None  # node id, when read from a record
    index: int | None = None


def read_baseline(path: str, *, output: str | None, image: int | None) -> BaselineImage:
    try:
        head = Path(path).read_bytes()[:64]
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read the baseline: {exc.strerror or exc}") from None
    if not head.lstrip().startswith(b"{"):
        if output is not None or image is not None:
            raise BaselineError(f"{path}: --output and --image apply to a baseline record .json, not to an image")
        return BaselineImage(fingerprint_file(path), path)
    record = BaselineRecord.from_json(Path(path).read_bytes(), source=path)
    node_id = choose_output(record, output, source=path)
    images = record.outputs[node_id].images
    if image is None:
        if len(images) != 1:
            raise BaselineError(
                f"{path}: output {node_id!r} holds {len(images)} images; choose one with --image N (0 to {len(images) - 1})"
            )
        image = 0
    if not 0 <= image < len(images):
        raise BaselineError(
            f"{path}: output {node_id!r} has no image {image}; it holds {len(images)} (--image 0 to {len(images) - 1})"
        )
    return BaselineImage(images[image], f"{path} (output {node_id}, image {image})", node_id, image)


def choose_output(record: BaselineRecord, wanted: str | None, *, source: str) -> str:
    """The node id of the record's output named by ``wanted`` (a node id, or a label naming one output)."""
    if wanted is None and len(record.outputs) == 1:
        return next(iter(record.outputs))
    if wanted in record.outputs:
        return wanted
    by_label = [node_id for node_id, output in record.outputs.items() if wanted is not None and output.label == wanted]
    if len(by_label) == 1:
        return by_label[0]
    held = (
        "; ".join(
            f"{node_id}" + (f" (label {out.label!r})" if out.label else "") + f": {len(out.images)} image(s)"
            for node_id, out in record.outputs.items()
        )
        or "no outputs"
    )
    reason = "choose one with --output NODE" if wanted is None else f"it has no output {wanted!r}"
    raise BaselineError(f"{source}: the record holds {len(record.outputs)} output(s), {reason}; it holds: {held}")


def run(args: argparse.Namespace) -> int:
    try:
        thresholds = Thresholds().with_overrides(dict(args.thresholds))
    except ValueError as exc:
        print_error(str(exc))
        return EXIT_USAGE
    baseline = read_baseline(args.baseline, output=args.output, image=args.image)
    actual = fingerprint_file(args.actual)
    comparison = compare(baseline.fingerprint, actual, thresholds)
    if args.json:
        print_json(
            {
                **comparison.to_json(),
                "baseline": {"path": args.baseline, "output": baseline.output, "image": baseline.index},
                "actual": args.actual,
            }
        )
    else:
        limits = " ".join(f"{name}={value:g}" for name, value in comparison.thresholds.as_dict().items())
        print(f"baseline:   {baseline.description}")
        print(f"actual:     {args.actual}")
        print(f"thresholds: {limits}")
        print(comparison.explain())
        print(f"verdict:    {'match' if comparison.match else 'MISMATCH'}")
    return EXIT_OK if comparison.match else EXIT_CHECK_FAILED
