"""``pytest-invokeai report merge DIR... -o DIR``: one results folder, and one report, from several runs' folders.

A suite split over CI jobs (pytest-split's ``--splits N --group I``, or ``-k`` / node ids per job) gives one
results folder per job; the merge job downloads them all and makes the folder that ``accept``, ``review`` and
``recall`` read, with one ``report.html`` and ``report.json`` whose counts add up.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pytest_invokeai.cli.common import EXIT_OK, EXIT_USAGE, print_error
from pytest_invokeai.report.outcomes import TEST_COUNTS


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "report",
        help="merge the results folders of several runs (CI shards) into one report",
        description="Work with the reports in results folders.",
    )
    parser.set_defaults(command_parser=parser)
    actions = parser.add_subparsers(title="actions", metavar="ACTION")
    merge = actions.add_parser(
        "merge",
        help="merge the results folders of a suite's shards into one results folder with one report",
        description=(
            "Merge the results folders of the shards of one suite (each holding its report.json) into a new results "
            "folder: their files, one report.json whose counts add up and one report.html. A test id found in two "
            "shards is refused, naming both folders; shards of different baseline profiles or InvokeAI versions get "
            "a section each. Exit 0 when the merged folder was written (whatever the tests' status, which the report "
            "tells), 2 when it could not be."
        ),
    )
    merge.add_argument("folders", nargs="+", metavar="DIR", type=Path, help="a shard's results folder")
    merge.add_argument("-o", "--output", required=True, type=Path, metavar="DIR", help="the new results folder")
    merge.add_argument(
        "--job-summary",
        nargs="?",
        const="",
        default=None,
        metavar="PATH",
        help="write the Markdown job summary of the whole suite: appended to $GITHUB_STEP_SUMMARY, or to PATH "
        "(replaced) when given",
    )
    merge.add_argument(
        "--orphans",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="look for orphaned baselines over all shards together, within these test paths (the ones the shards ran)",
    )
    merge.add_argument("--rootdir", type=Path, default=Path("."), help="the shards' pytest rootdir (default: .)")
    merge.add_argument(
        "--baselines", type=Path, metavar="DIR", help="the baseline store for --orphans (default: ROOTDIR/baselines)"
    )
    merge.set_defaults(handler=run_merge)


def run_merge(args: argparse.Namespace) -> int:
    from pytest_invokeai.report.job_summary import job_summary_markdown, step_summary_file, write_job_summary
    from pytest_invokeai.report.merge import merge_documents, read_shard, scan_merged, write_merged

    summary_path = None
    if args.job_summary is not None:
        summary_path = Path(args.job_summary) if args.job_summary else step_summary_file()
        if summary_path is None:
            print_error("--job-summary without a PATH appends to $GITHUB_STEP_SUMMARY, which is not set: give a PATH")
            return EXIT_USAGE
    out: Path = args.output
    shards = [read_shard(folder) for folder in args.folders]
    document = merge_documents(shards, out)
    if args.orphans:
        rootdir = args.rootdir.resolve()
        baselines = args.baselines if args.baselines is not None else rootdir / "baselines"
        document = scan_merged(document, baseline_dir=baselines, rootdir=rootdir, paths=args.orphans)
    written = write_merged(shards, document, out)
    tests = document["summary"]["tests"]
    counts = ", ".join(f"{tests[key]} {key}" for key in TEST_COUNTS if tests[key]) or "no tests ran"
    print(f"merged {len(shards)} results folder(s) into {out}: {document['status']} ({counts})")
    print(
        f"outputs compared: {document['summary'].get('compared', 0)}; failures {document['summary'].get('failures', 0)}"
    )
    if args.orphans:
        print(f"orphaned baselines: {len(document['orphans'])}")
        print("".join(f"  {name}\n" for name in document["orphans"]), end="")
    for path in written:
        print(f"report: {path}")
    if summary_path is not None:
        markdown = job_summary_markdown(document, results_dir=out.as_posix())
        if args.job_summary:
            write_job_summary(markdown, step_summary=None, path=summary_path)
        else:
            write_job_summary(markdown, step_summary=summary_path, path=None)
        print(f"job summary: {summary_path}")
    return EXIT_OK
