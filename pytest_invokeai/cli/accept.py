"""``pytest-invokeai accept [CASE ...] [--failed]``: write baselines from a finished run's results, generating nothing."""

from __future__ import annotations

import argparse
from pathlib import Path

from pytest_invokeai.accept.apply import (
    EXIT_REFUSED,
    AcceptOutcome,
    AcceptRequest,
    accept,
)
from pytest_invokeai.cli.common import EXIT_USAGE, print_error
from pytest_invokeai.run.accept_command import DEFAULT_RESULTS


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "accept",
        help="write the baselines of a finished run's failed cases from the images it kept (no server, no generation)",
        description=(
            "Accept what a finished run produced as the new baselines: the records (fingerprints) of the chosen "
            "cases are written from the actual images the run kept in its results folder, exactly as a run with "
            "--invokeai-update-baselines=changed would have written them. No server is contacted and nothing is "
            "generated, so the results folder of a CI run (an artifact) can be accepted on a laptop without InvokeAI. "
            "CASE is a test id or a unique part of one, as in 'recall'. Matched and errored cases are listed, not "
            "written. It refuses, naming the workflow, a case whose workflow file changed since the run and a run "
            "judged against another baseline profile; a refusal writes nothing."
        ),
        epilog="exit codes: 0 wrote (or would write, with --dry-run), 1 nothing to accept, 2 refused or bad input",
    )
    parser.add_argument("cases", metavar="CASE", nargs="*", help="test id, or a unique part of one")
    parser.add_argument("--failed", action="store_true", help="every mismatched or missing case of the run")
    parser.add_argument(
        "--results",
        type=Path,
        help=f"the run's results folder (default: ROOTDIR/{DEFAULT_RESULTS}, holding report.json)",
    )
    parser.add_argument(
        "--accept-drift",
        action="store_true",
        help="rewrite the index map of a drifted workflow (its cases then have to run again to record images)",
    )
    parser.add_argument(
        "--rootdir", type=Path, default=Path("."), help="the suite's root folder (default: the current folder)"
    )
    parser.add_argument("--baselines", type=Path, help="the baseline folder (default: the one the run used)")
    parser.add_argument("--profile", help="the baseline profile (default: the run's; another one is refused)")
    parser.add_argument("--dry-run", action="store_true", help="only show what would be written")
    parser.set_defaults(handler=run, command_parser=parser)


def accept_request(args: argparse.Namespace, *, accept_drift: bool = False, dry_run: bool = False) -> AcceptRequest:
    """What to accept from, as the options of `accept` and `review` (which share them) say."""
    rootdir = args.rootdir.resolve()
    return AcceptRequest(
        results_dir=(args.results or rootdir / DEFAULT_RESULTS).resolve(),
        rootdir=rootdir,
        baselines=args.baselines.resolve() if args.baselines else None,
        profile=args.profile,
        accept_drift=accept_drift,
        dry_run=dry_run,
        schema=args.schema,
    )


def run(args: argparse.Namespace) -> int:
    if not args.cases and not args.failed:
        print_error("name the cases to accept (CASE ...), or --failed for every mismatched or missing case")
        return EXIT_USAGE
    rootdir = args.rootdir.resolve()
    request = accept_request(args, accept_drift=args.accept_drift, dry_run=args.dry_run)
    outcome = accept(request, args.cases, failed=args.failed)
    print(format_outcome(outcome, rootdir=rootdir, dry_run=args.dry_run))
    if outcome.exit_code == EXIT_REFUSED:
        print_error("refused; nothing was written")
    return outcome.exit_code


def format_outcome(outcome: AcceptOutcome, *, rootdir: Path, dry_run: bool) -> str:
    lines = []
    if outcome.refused:
        lines += [f"refused   {reason}" for reason in outcome.refused]
    else:
        verb = "would write" if dry_run else "wrote"
        lines += [f"{verb}  {_shown(path, rootdir)}  ({test_id})" for test_id, path in outcome.written]
        verb = "would rewrite" if dry_run else "rewrote"
        lines += [f"{verb}  index map {_shown(path, rootdir)} of {workflow}" for workflow, path in outcome.index_maps]
        lines += [f"run again to record  {test_id}  (drifted: it generated nothing)" for test_id in outcome.run_again]
    lines += [f"not written  {test_id}: {why}" for test_id, why in outcome.listed]
    if not outcome.refused and not outcome.written and not outcome.index_maps:
        lines.append("nothing to accept")
    return "\n".join(lines)


def _shown(path: Path, rootdir: Path) -> str:
    return path.relative_to(rootdir).as_posix() if path.is_relative_to(rootdir) else str(path)
