"""Merging the results folders of several runs (the shards of one suite, each run by its own CI job) into one.

Each shard's folder holds its ``report.json`` and its artifacts. The merge refuses a test id found in two
shards, adds the counts up, keeps every output, problem and test that did not pass, and gives each
baseline profile and InvokeAI version a section of its own. :func:`merge_documents` is pure; reading,
copying and writing are at the edges (:func:`read_shard`, :func:`write_merged`).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_invokeai._util.atomic import write_atomic
from pytest_invokeai.errors import InvokeAITestError
from pytest_invokeai.report.outcomes import TEST_COUNTS, RunOutcome, TestOutcome
from pytest_invokeai.report.results import VERDICTS, AcceptedDrift, OutputResult, TestProblem
from pytest_invokeai.report.summary import SUMMARY_FORMAT, SUMMARY_FORMAT_VERSION

REPORT_JSON, REPORT_HTML = "report.json", "report.html"
ARTIFACT_KINDS = ("actual", "baseline", "diff", "side_by_side")


class MergeError(InvokeAITestError):
    """Shards that cannot be merged: the message names the folder (or both folders) and what is wrong."""


@dataclass(frozen=True)
class Shard:
    """One results folder and its report document."""

    folder: Path
    document: dict[str, Any]

    @property
    def profile(self) -> str | None:
        return (self.document.get("environment") or {}).get("baseline_profile")

    @property
    def versions(self) -> list[str]:
        return list((self.document.get("environment") or {}).get("invokeai_versions") or [])

    @property
    def section(self) -> str:
        """The heading of its section: its baseline profile and InvokeAI version(s)."""
        return f"baseline profile {self.profile or 'default'}, InvokeAI {', '.join(self.versions) or 'unknown'}"


def read_shard(folder: Path) -> Shard:
    """The shard in ``folder``; a folder that is not a results folder of a run is an error naming it."""
    path = folder / REPORT_JSON
    if not folder.is_dir():
        raise MergeError(f"{folder}: no such folder (expected a results folder holding {REPORT_JSON})")
    if not path.is_file():
        raise MergeError(
            f"{folder}: holds no {REPORT_JSON}; a run writes its report into its results folder "
            "(--invokeai-results-dir), unless --invokeai-report sent it elsewhere"
        )
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise MergeError(f"{path}: not a readable report ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != SUMMARY_FORMAT:
        raise MergeError(f'{path}: not a pytest-invokeai report (expected "format": "{SUMMARY_FORMAT}")')
    if document.get("format_version") != SUMMARY_FORMAT_VERSION:
        raise MergeError(
            f"{path}: format_version {document.get('format_version')!r}, this pytest-invokeai reads "
            f"{SUMMARY_FORMAT_VERSION}: run every shard with the same pytest-invokeai"
        )
    return Shard(folder, document)


def shard_test_ids(document: Mapping[str, Any]) -> set[str]:
    """Every test id a shard ran: what it collected, compared or reported."""
    ids = set((document.get("collection") or {}).get("test_ids", []))
    ids |= {each["test_id"] for each in document.get("outputs", [])}
    ids |= {each["test_id"] for each in document.get("tests", [])}
    return ids


def check_disjoint(shards: Sequence[Shard]) -> None:
    """Each test in one shard only: a test id in two shards is refused, naming both folders."""
    folders = [os.path.abspath(shard.folder) for shard in shards]
    for folder in folders:
        if folders.count(folder) > 1:
            raise MergeError(f"{folder} is given twice: each shard's results folder once")
    seen: dict[str, Path] = {}
    for shard in shards:
        for test_id in sorted(shard_test_ids(shard.document)):
            first = seen.setdefault(test_id, shard.folder)
            if first != shard.folder:
                raise MergeError(
                    f"test {test_id} is in two shards, {first} and {shard.folder}: each test must run in one "
                    "shard only (pytest-split's groups, or -k expressions or node ids that do not overlap)"
                )


def _rebased(link: str | None, shard: Path, out: Path) -> str | None:
    """An artifact link of a shard's report, relative to the merged folder (files inside a shard are copied
    to the same place in it; a file elsewhere, a baseline image say, is linked where it is)."""
    if link is None:
        return None
    target = Path(os.path.abspath(shard / link))
    if target.is_relative_to(os.path.abspath(shard)):
        return target.relative_to(os.path.abspath(shard)).as_posix()
    return Path(os.path.relpath(target, os.path.abspath(out))).as_posix()


def _added(counts: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for each in counts:
        for key, value in each.items():
            if isinstance(value, int):
                total[key] = total.get(key, 0) + value
    return total


def merge_documents(shards: Sequence[Shard], out: Path) -> dict[str, Any]:
    """One report document of all shards (artifact links relative to ``out``), counts added up."""
    check_disjoint(shards)
    docs = [shard.document for shard in shards]
    outputs = []
    for shard, doc in zip(shards, docs, strict=True):
        for output in doc.get("outputs", []):
            links = {kind: _rebased(path, shard.folder, out) for kind, path in output.get("artifacts", {}).items()}
            outputs.append({**output, "artifacts": links})
    outputs.sort(key=lambda output: VERDICTS.index(output["verdict"]))  # failures first, as a run orders them
    problems = sorted(
        (problem for doc in docs for problem in doc.get("problems", [])), key=lambda p: VERDICTS.index(p["verdict"])
    )
    exit_statuses = [doc.get("exit_status") for doc in docs]
    failed = [status for status in exit_statuses if status != 0]
    summary = _added({k: v for k, v in doc.get("summary", {}).items() if k != "tests"} for doc in docs)
    tests = _added(doc.get("summary", {}).get("tests", {}) for doc in docs)
    return {
        "format": SUMMARY_FORMAT,
        "format_version": SUMMARY_FORMAT_VERSION,
        "status": "passed" if not failed else "failed",
        "exit_status": 0 if not failed else max((s for s in failed if isinstance(s, int)), default=1),
        "summary": {**summary, "tests": {key: tests.get(key, 0) for key in TEST_COUNTS}},
        "tests": [test for doc in docs for test in doc.get("tests", [])],
        "outputs": outputs,
        "problems": problems,
        "accepted_drift": [each for doc in docs for each in doc.get("accepted_drift", [])],
        "orphans": sorted({name for doc in docs for name in doc.get("orphans", [])}),
        "servers_down": {url: why for doc in docs for url, why in doc.get("servers_down", {}).items()},
        "cases": {test_id: case for doc in docs for test_id, case in doc.get("cases", {}).items()},
        "environment": _environment(shards),
        "collection": _collection(docs),
        "sections": _sections(shards),
        "merged_from": [str(shard.folder) for shard in shards],
    }


def _environment(shards: Sequence[Shard]) -> dict[str, Any]:
    environments = [shard.document.get("environment") or {} for shard in shards]
    profiles = {each.get("baseline_profile") for each in environments}
    return {
        "baseline_profile": profiles.pop() if len(profiles) == 1 else None,
        "invokeai_versions": sorted({v for each in environments for v in each.get("invokeai_versions") or []}),
    }


def _collection(docs: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    collections = [doc.get("collection") or {} for doc in docs]
    return {
        "test_ids": [test_id for each in collections for test_id in each.get("test_ids", [])],
        "used_workflows": sorted({key for each in collections for key in each.get("used_workflows", [])}),
        "unlisted": sorted({prefix for each in collections for prefix in each.get("unlisted", [])}),
    }


def _sections(shards: Sequence[Shard]) -> list[dict[str, Any]]:
    """One section per baseline profile and InvokeAI version: its folders, counts and tests."""
    groups: dict[str, list[Shard]] = {}
    for shard in shards:
        groups.setdefault(shard.section, []).append(shard)
    sections = []
    for heading, members in groups.items():
        docs = [member.document for member in members]
        sections.append(
            {
                "heading": heading,
                "baseline_profile": members[0].profile,
                "invokeai_versions": members[0].versions,
                "folders": [str(member.folder) for member in members],
                "summary": _added({k: v for k, v in d.get("summary", {}).items() if k != "tests"} for d in docs),
                "tests": _added(d.get("summary", {}).get("tests", {}) for d in docs),
                "test_ids": sorted({test_id for d in docs for test_id in shard_test_ids(d)}),
            }
        )
    return sections


# -- the merged folder on disk --------------------------------------------------------------------


def copy_artifacts(shards: Sequence[Shard], target: Path) -> None:
    """Every file of every shard (but its report) into ``target``, at the same place; two shards holding
    different files at one place are refused (naming both)."""
    origin: dict[Path, Path] = {}
    for shard in shards:
        for source in sorted(shard.folder.rglob("*")):
            relative = source.relative_to(shard.folder)
            if not source.is_file() or relative.as_posix() in (REPORT_JSON, REPORT_HTML):
                continue
            destination = target / relative
            if destination.exists():
                if destination.read_bytes() == source.read_bytes():
                    continue
                raise MergeError(
                    f"{relative} differs between {origin.get(destination, '?')} and {shard.folder}: "
                    "the shards must not share result files"
                )
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
            origin[destination] = shard.folder


def _artifact_paths(output: Mapping[str, Any], folder: Path) -> dict[str, Path | None]:
    links = output.get("artifacts", {})
    return {kind: None if links.get(kind) is None else folder / links[kind] for kind in ARTIFACT_KINDS}


def html_inputs(document: Mapping[str, Any], folder: Path) -> dict[str, Any]:
    """A report document as the HTML report writer takes it (artifact paths made absolute under ``folder``)."""
    cases = document.get("cases", {})
    outputs = [
        OutputResult(
            test_id=each["test_id"],
            output=each["output"],
            label=each.get("label", ""),
            image_index=each.get("image_index", 0),
            verdict=each["verdict"],
            distances=dict(each.get("distances", {})),
            thresholds=dict(each.get("thresholds", {})),
            failed=list(each.get("failed", [])),
            explanation=each.get("explanation", ""),
            extra=dict(each.get("extra", {})),
            case=dict(cases.get(each["test_id"], {})),
            baseline_kind=each.get("baseline_kind") or "",
            context=list(each.get("context") or []),
            **_artifact_paths(each, folder),
        )
        for each in document.get("outputs", [])
    ]
    run = RunOutcome(
        exit_status=document.get("exit_status"),
        counts=dict(document["summary"]["tests"]),
        not_passed=[TestOutcome(t["test_id"], t["outcome"], t.get("reason", "")) for t in document.get("tests", [])],
    )
    return {
        "outputs": outputs,
        "problems": [TestProblem(p["test_id"], p["verdict"], p.get("message", "")) for p in document["problems"]],
        "summary": {k: v for k, v in document["summary"].items() if k != "tests"},
        "run": run,
        "orphans": list(document.get("orphans", [])),
        "accepted_drift": [AcceptedDrift(a["workflow"], a["drift"]) for a in document.get("accepted_drift", [])],
        "servers_down": dict(document.get("servers_down", {})),
    }


def write_merged(shards: Sequence[Shard], document: dict[str, Any], out: Path) -> list[Path]:
    """The merged results folder: the shards' files, report.json and report.html (re-rendered from the merged
    data). Built beside ``out`` and renamed into place: a merge that fails leaves nothing half-written."""
    from pytest_invokeai.report.html import write_html_report

    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise MergeError(f"{out}: exists and is not an empty folder; the merge writes a new results folder")
    building = out.parent / f".{out.name}.merging-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    try:
        copy_artifacts(shards, building)
        write_atomic(
            building / REPORT_JSON, (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        )
        sections = [(s["heading"], s["folders"], s["summary"], s["tests"]) for s in document["sections"]]
        write_html_report(
            building / REPORT_HTML,
            **html_inputs(document, building),
            title="pytest-invokeai report (merged)",
            sections=sections if len(sections) > 1 else (),
        )
        if out.exists():
            out.rmdir()
        building.rename(out)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return [out / REPORT_HTML, out / REPORT_JSON]


# -- the orphan scan over all shards ----------------------------------------------------------------


def with_orphan_scan(
    document: Mapping[str, Any], orphans: Sequence[str], unreadable: Mapping[str, str]
) -> dict[str, Any]:
    """The merged document with the orphans and unreadable baseline files found over all shards together
    (each unreadable file a test problem, as a run reports it)."""
    problems = [
        *document["problems"],
        *({"test_id": name, "verdict": "error", "message": why} for name, why in sorted(unreadable.items())),
    ]
    summary = dict(document["summary"])
    summary["orphaned"] = len(orphans)
    summary["errors"] = summary.get("errors", 0) + len(unreadable)
    summary["failures"] = summary.get("failures", 0) + len(unreadable)
    return {**document, "orphans": sorted(orphans), "problems": problems, "summary": summary}


def scan_merged(
    document: Mapping[str, Any], *, baseline_dir: Path, rootdir: Path, paths: Sequence[Path]
) -> dict[str, Any]:
    """Look for orphans over everything the shards collected, within the test ``paths`` they ran."""
    from pytest_invokeai.baseline.orphans import RunScope, scan_run
    from pytest_invokeai.baseline.store import BaselineStore

    profiles = {section.get("baseline_profile") for section in document.get("sections", [])}
    if len(profiles) > 1:
        raise MergeError(
            "the shards used different baseline profiles: look for orphans per profile (merge each profile's "
            "shards with --orphans, or run `pytest-invokeai baselines prune --dry-run`)"
        )
    collection = document.get("collection") or {}
    scan = scan_run(
        BaselineStore(baseline_dir, profile=(document.get("environment") or {}).get("baseline_profile")),
        rootdir,
        RunScope(paths=tuple(path.resolve() for path in paths)),
        [rootdir / key for key in collection.get("used_workflows", [])],
        collection.get("test_ids", []),
        collection.get("unlisted", []),
    )
    return with_orphan_scan(document, scan.orphans, scan.unreadable)
