"""JUnit XML properties of one compared output, so CI systems show distances and artifacts per test case."""

from __future__ import annotations

from pathlib import Path

from pytest_invokeai.report.files import link_from
from pytest_invokeai.report.results import OutputResult, format_number


def junit_properties(result: OutputResult, *, relative_to: Path | None = None) -> list[tuple[str, str]]:
    """``(name, value)`` pairs named ``invokeai.<output>[<image index>].<what>``.

    ``<what>`` is ``verdict``, ``label`` (when there is one), ``distance.<signal>``,
    ``threshold.<signal>``, ``failed`` (comma-separated signals, when any) and the artifact files
    (``actual``, ``baseline``, ``diff``, ``side_by_side``). Artifact paths are absolute, or relative
    to ``relative_to`` (the JUnit XML's folder) when given.
    """
    prefix = f"invokeai.{result.output}[{result.image_index}]"
    # A plain str: xdist sends user properties through execnet, which refuses str subclasses such as Verdict.
    properties = [(f"{prefix}.verdict", str(result.verdict))]
    if result.label:
        properties.append((f"{prefix}.label", result.label))
    properties += [(f"{prefix}.distance.{name}", format_number(value)) for name, value in result.distances.items()]
    properties += [(f"{prefix}.threshold.{name}", format_number(value)) for name, value in result.thresholds.items()]
    if result.failed:
        properties.append((f"{prefix}.failed", ",".join(result.failed)))
    for kind, path in result.artifact_paths.items():
        if path is not None:
            where = link_from(relative_to, path) if relative_to is not None else Path(path).resolve().as_posix()
            properties.append((f"{prefix}.{kind}", where))
    return properties
