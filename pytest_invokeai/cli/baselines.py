"""``pytest-invokeai baselines ACTION``: look at the baseline store (records, index maps, profiles).

Actions that need the test suite collected (pruning orphans, updating records) belong here too, each
one parser in :func:`register` and one handler; they share :func:`add_store_options` and :func:`open_store`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

from pytest_invokeai.baseline.record import BaselineRecord, RecordError
from pytest_invokeai.baseline.store import BaselineStore
from pytest_invokeai.baseline.update import UpdateMode
from pytest_invokeai.cli.common import EXIT_OK, EXIT_USAGE, print_error, print_json
from pytest_invokeai.errors import BaselineError

DEFAULT_DIR = Path("baselines")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "baselines",
        help="list, show and prune the stored baseline records and index maps",
        description=(
            "The baseline store holds one record per test (fingerprints of its output images, as JSON), a small "
            "preview of each image, optional PNG copies, index maps of the workflows, and per-profile records under "
            "_profiles/."
        ),
    )
    parser.set_defaults(command_parser=parser)
    actions = parser.add_subparsers(title="actions", metavar="ACTION")

    listing = actions.add_parser(
        "list",
        help="every stored record (test id, outputs, image count, file, size) and index map",
        description=(
            "List the records of the store (of --profile's own store when given) and the index maps. "
            "Files that cannot be used (empty, cut short, binary, another test's record) are listed as unreadable, "
            "with what is wrong; exit 2 when there is one (the others are still listed)."
        ),
    )
    add_store_options(listing)
    listing.add_argument(
        "--json",
        action="store_true",
        help="print JSON: {dir, profile, profiles, records: [{test_id, file, bytes, previews: [{file, bytes}], images, "
        "outputs}], index_maps, strays (previews and PNG copies whose record is gone), unreadable: [{file, problem}], "
        "errors}",
    )
    listing.set_defaults(handler=run_list)

    register_show(actions)

    prune = actions.add_parser(
        "prune",
        help="delete baselines and index maps that no collected test uses (runs pytest --collect-only)",
        description=(
            "Collect the suite (pytest --collect-only, nothing runs) and delete the records and index maps that no "
            "collected test uses. Unreadable files are listed, never deleted. A narrowed collection (-k, -m, node ids, --lf) is refused. Extra arguments (after --) go to "
            "pytest, e.g. the test paths."
        ),
    )
    prune.add_argument("--dry-run", action="store_true", help="only list what would be deleted")
    add_pytest_passthrough(prune)
    prune.set_defaults(handler=run_prune)

    update = actions.add_parser(
        "update",
        help="run the suite and rewrite baselines (mode changed unless --mode)",
        description=(
            "Run the suite with --invokeai-update-baselines=MODE. missing: write only baselines that do not exist; "
            "changed: also rewrite mismatched ones; all: rewrite every baseline and accept form drift. "
            "Extra arguments go to pytest (paths, -k, --invokeai-url, ...); put -- before pytest options."
        ),
    )
    update.add_argument(
        "--mode",
        choices=[m.value for m in UpdateMode if m is not UpdateMode.NONE],
        default="changed",
        help="which baselines to write (default: changed)",
    )
    add_pytest_passthrough(update)
    update.set_defaults(handler=run_update)


def register_show(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    show = actions.add_parser(
        "show",
        help="print baseline records for a person (also git's textconv for baselines: readable diffs)",
        description=(
            "Print each record: test id, InvokeAI version, workflow and its content hash, models, input values, and "
            "per output image its size, mode, mean colour (Lab and sRGB hex), sharpness, the standard pHash "
            "(str(imagehash.phash(image))) and the digest of its pixels. A file that is not a record (an index map, "
            "a broken file) is printed as it is. Never fails on a file's content, so git can use it as a textconv: "
            'git config diff.invokeai.textconv "pytest-invokeai baselines show"'
        ),
    )
    show.add_argument("files", nargs="+", type=Path, metavar="FILE", help="record files (.json)")
    show.add_argument(
        "--json",
        action="store_true",
        help="print JSON: [{file, record: {test_id, invokeai_version, workflow, workflow_content_hash, models, "
        "inputs, outputs: [{node_id, label, images: [{width, height, mode, mean_lab, mean_srgb, sharpness, "
        "imagehash_phash, pixel_sha256}]}]} or null, problem, text (a file that is not a record, as it is)}]",
    )
    show.set_defaults(handler=run_show)


def add_store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir", type=Path, default=DEFAULT_DIR, help=f"the baseline directory (default: ./{DEFAULT_DIR})"
    )
    parser.add_argument("--profile", help="a baseline profile (its records are under DIR/_profiles/PROFILE)")


def add_pytest_passthrough(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", type=Path, help="the baseline directory (default: the suite's setting)")
    parser.add_argument("--profile", help="a baseline profile (default: the suite's setting)")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, metavar="PYTEST_ARGS", help="passed on to pytest")


def run_pytest(args: argparse.Namespace, *plugin_args: str) -> int:
    """Run pytest in this Python with the store options and the user's arguments; pytest's exit code."""
    command = [sys.executable, "-m", "pytest", *plugin_args]
    if args.dir is not None:
        command.append(f"--invokeai-baseline-dir={args.dir}")
    if args.profile is not None:
        command.append(f"--invokeai-baseline-profile={args.profile}")
    if getattr(args, "schema", None):  # the command's --schema (relative to here; pytest's paths are to the rootdir)
        command.append(f"--invokeai-schema={Path(args.schema).resolve()}")
    extra = list(args.pytest_args)
    if extra[:1] == ["--"]:
        extra = extra[1:]
    return subprocess.call([*command, *extra])


def run_prune(args: argparse.Namespace) -> int:
    return run_pytest(args, "--collect-only", "-q", f"--invokeai-prune={'dry-run' if args.dry_run else 'delete'}")


def run_update(args: argparse.Namespace) -> int:
    return run_pytest(args, f"--invokeai-update-baselines={args.mode}")


def open_store(args: argparse.Namespace) -> BaselineStore:
    if not args.dir.is_dir():
        raise BaselineError(f"{args.dir}: no baseline directory there (name one with --dir DIR)")
    return BaselineStore(args.dir, profile=args.profile)


def run_show(args: argparse.Namespace) -> int:
    """Describe each file; one that is not a readable record is printed as it is (exit 0: git's textconv)."""
    from pytest_invokeai.baseline.describe import describe_record, format_description

    shown: list[dict[str, Any]] = []
    raw: list[bytes] = []
    for path in args.files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            print_error(f"{path}: cannot read the file: {exc.strerror or exc}")
            return EXIT_USAGE
        raw.append(data)
        try:
            described = describe_record(BaselineRecord.from_json(data, source=""))
            shown.append({"file": str(path), "record": described, "problem": None, "text": None})
        except RecordError as exc:
            text = data.decode("utf-8", errors="replace")
            shown.append({"file": str(path), "record": None, "problem": exc.problem, "text": text})
    if args.json:
        print_json(shown)
        return EXIT_OK
    for position, item in enumerate(shown):
        if len(shown) > 1:  # one file (what git passes) gets no header: git's temporary names would show in diffs
            print(("\n" if position else "") + f"==> {item['file']} <==")
        if item["record"] is not None:
            print(format_description(item["record"]))
        else:
            _write_as_is(raw[position])
    return EXIT_OK


def _write_as_is(data: bytes) -> None:
    """``data`` on stdout byte for byte (decoded only where stdout is a text stream alone, as when captured)."""
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(data.decode("utf-8", errors="replace"))
        return
    sys.stdout.flush()
    buffer.write(data)
    buffer.flush()


def run_list(args: argparse.Namespace) -> int:
    store = open_store(args)
    records: list[dict[str, Any]] = []
    scan = store.scan_records()
    unreadable = dict(scan.unreadable)
    for path in scan.found.values():
        try:
            record = BaselineRecord.from_json(path.read_bytes(), source="")  # the fingerprints too
        except RecordError as exc:
            unreadable[path] = exc.problem
            continue
        except OSError as exc:
            unreadable[path] = f"cannot read the file: {exc.strerror or exc}"
            continue
        records.append(
            {
                "test_id": record.test_id,
                "file": str(path),
                "bytes": path.stat().st_size,
                "previews": [{"file": str(p), "bytes": p.stat().st_size} for p in store.previews_of(path)],
                "images": record.image_count,
                "outputs": {
                    node_id: {"label": output.label, "images": len(output.images)}
                    for node_id, output in record.outputs.items()
                },
            }
        )
    records.sort(key=lambda item: item["test_id"])
    maps = store.scan_index_maps()
    unreadable.update(maps.unreadable)
    index_maps = [
        {"workflow": key, "file": str(path), "bytes": path.stat().st_size} for key, path in maps.found.items()
    ]
    listing: dict[str, Any] = {
        "dir": str(store.root),
        "profile": store.profile,
        "profiles": store.profiles(),
        "records": records,
        "index_maps": index_maps,
        "strays": [str(path) for path in store.stray_companions()],
        "unreadable": [{"file": str(path), "problem": problem} for path, problem in sorted(unreadable.items())],
        "errors": [f"{path}: {problem}" for path, problem in sorted(unreadable.items())],
    }
    if args.json:
        print_json(listing)
    else:
        print(format_listing(listing))
    for message in listing["errors"]:
        print_error(message)
    return EXIT_USAGE if unreadable else EXIT_OK


def format_listing(listing: dict[str, Any]) -> str:
    where = f"profile {listing['profile']!r} of {listing['dir']}" if listing["profile"] else listing["dir"]
    lines = [f"records in {where}: {len(listing['records'])}"]
    for item in listing["records"]:
        outputs = ", ".join(
            f"{node_id}" + (f" ({output['label']})" if output["label"] else "") + f" x{output['images']}"
            for node_id, output in item["outputs"].items()
        )
        lines.append(f"  {item['test_id']}")
        lines.append(f"      {_count(item['images'], 'image')}: {outputs}")
        lines.append(f"      {item['file']} ({item['bytes']} bytes)")
        if item["previews"]:
            size = sum(preview["bytes"] for preview in item["previews"])
            lines.append(f"      {_count(len(item['previews']), 'preview')} ({size} bytes)")
    lines.append(f"index maps: {len(listing['index_maps'])}")
    for item in listing["index_maps"]:
        lines.append(f"  {item['workflow']}")
        lines.append(f"      {item['file']} ({item['bytes']} bytes)")
    if listing["strays"]:
        lines.append(
            f"previews and PNG copies whose record is gone: {len(listing['strays'])} "
            "(orphans: `pytest-invokeai baselines prune` removes them)"
        )
        lines += [f"  {name}" for name in listing["strays"]]
    if listing["unreadable"]:
        lines.append(
            f"unreadable: {len(listing['unreadable'])} (a test run rewrites a record with --invokeai-update-baselines=changed, "
            "an index map with =all; the broken file is kept as *.broken)"
        )
        for item in listing["unreadable"]:
            lines.append(f"  {item['file']}")
            lines.append(f"      {item['problem']}")
    if listing["profiles"]:
        lines.append(f"profiles: {', '.join(listing['profiles'])}")
    return "\n".join(lines)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
