"""The plugin's settings: one table of options, read from the command line, the environment and the ini.

Precedence is command line, then ``PYTEST_INVOKEAI_*`` environment variables, then
``[tool.pytest.ini_options]`` (or any pytest ini file), then the default; an empty environment
variable counts as unset. The table is plain data so that the pytest glue registers it and the CLI
and tests read it without pytest.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pytest_invokeai.baseline.update import UpdateMode

DEFAULT_HANG_TIMEOUT = 60.0  # seconds of silence that declare a server down (see server/liveness.py)
#: The report's default: report.html in the results folder, so that each results folder (a CI shard's) holds its own.
REPORT_IN_RESULTS_DIR = "<results dir>/report.html"


@dataclass(frozen=True)
class Option:
    name: str  # the dest, e.g. "invokeai_url"; flag = --invokeai-url, env = PYTEST_INVOKEAI_URL, ini = invokeai_url
    help: str
    default: Any = None
    kind: str = "string"  # string | bool | float | int | list | choice
    choices: tuple[str, ...] = ()
    metavar: str | None = None
    check: Callable[[str], None] | None = None  # raises ValueError (saying what is valid) for a bad list item
    minimum: int = 1  # the least whole number an "int" option takes
    secret: bool = False  # a password: no ini key (a file kept in git is no place for it), never printed

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "PYTEST_" + self.name.upper()

    @property
    def ini(self) -> str:
        return self.name

    def help_text(self) -> str:
        default = self.default
        if isinstance(default, (list, tuple)):
            default = ", ".join(default) if default else None
        if isinstance(default, float):
            default = f"{default:g}"
        told = "off" if self.kind == "bool" and not default else default
        shown = f"default: {told}" if told not in (None, "") else "default: none"
        if self.kind == "bool":  # the flag takes no value, but env and ini need one: say which
            return f"{self.help} ({shown}; env {self.env}=1|0; ini {self.ini} = true|false)"
        if self.secret:
            return f"{self.help} (env {self.env}; no ini key)"
        return f"{self.help} ({shown}; env {self.env}; ini {self.ini})"


def check_server_url(text: str) -> None:
    """Raise ValueError unless ``text`` is the URL of a server: http(s)://HOST[:PORT][/PREFIX]."""
    parts = urlsplit(text)
    example = "such as http://127.0.0.1:9090 (http:// or https://, a host, a port, optionally a path prefix)"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # HOST:PORT without a scheme is the usual slip: say what was meant.
        looks_like_host = "://" not in text and ":" in text and urlsplit(f"http://{text}").hostname
        hint = f"; did you mean http://{text}?" if looks_like_host else ""
        raise ValueError(f"expected the URL of an InvokeAI server, {example}{hint}")
    try:
        parts.port  # noqa: B018 - reading the port is the check: urllib raises on a bad one
    except ValueError:
        raise ValueError(f"the port is not a number from 0 to 65535; expected a URL {example}") from None
    if parts.query or parts.fragment:
        raise ValueError(f"a server URL has no query or fragment; expected a URL {example}")


def _check_version_text(text: str) -> None:
    parts = text.split(".")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        raise ValueError("expected an InvokeAI release number such as 6.14.2")


OPTIONS: tuple[Option, ...] = (
    Option(
        "invokeai_url",
        "URL of a running InvokeAI server; give it several times (or a comma-separated list in the environment "
        "or ini) to spread the cases over several servers. Without it a local InvokeAI is started for the run",
        default=[],
        kind="list",
        metavar="URL",
        check=check_server_url,
    ),
    Option("invokeai_token", "bearer token for the server (never printed)", metavar="TOKEN"),
    Option(
        "invokeai_user",
        "email of the user to log in as on a multi-user InvokeAI (the password comes from PYTEST_INVOKEAI_PASSWORD)",
        metavar="EMAIL",
    ),
    Option(
        "invokeai_password",
        "password of --invokeai-user; prefer the environment variable (a command line shows in the process list "
        "and shell history); never printed",
        metavar="PASSWORD",
        secret=True,
    ),
    Option(
        "invokeai_version",
        "InvokeAI release of the managed server (installed on first use in its own environment); with "
        "--invokeai-url the version every server must run, checked before anything is enqueued. Default for the "
        "managed server: the newest release pytest-invokeai pins",
        metavar="X.Y.Z",
        check=_check_version_text,
    ),
    Option(
        "invokeai_timeout",
        "seconds one generation may run on the server before it is canceled and the test fails",
        default=600.0,
        kind="float",
        metavar="SECONDS",
    ),
    Option(
        "invokeai_hang_timeout",
        "seconds a server may answer nothing at all (no REST answer, no event-socket heartbeat, no health probe) "
        "before it is declared down: its remaining tests fail at once, or move to another server. A slow answer "
        "from a server that still answers its health probe is not a hang",
        default=DEFAULT_HANG_TIMEOUT,
        kind="float",
        metavar="SECONDS",
    ),
    Option("invokeai_queue", "the server's queue id", default="default", metavar="QUEUE"),
    Option(
        "invokeai_board",
        "put the run's images on this board (created when missing) instead of Uncategorized",
        metavar="NAME",
    ),
    Option(
        "invokeai_cleanup",
        "at the end of the run, delete the images, queue items and uploads this run made on the server",
        default=False,
        kind="bool",
    ),
    Option(
        "invokeai_server_cmd",
        "command that starts InvokeAI's web server for the managed local server (the plugin adds --root and sets the port)",
        metavar="CMD",
    ),
    Option(
        "invokeai_baseline_dir",
        "where baselines and index maps are kept, relative to the rootdir",
        default="baselines",
        metavar="DIR",
    ),
    Option(
        "invokeai_baseline_profile",
        "a baseline profile (e.g. cuda-fp16, cpu): its own sub-store, falling back to the default store",
        metavar="NAME",
    ),
    Option(
        "invokeai_update_baselines",
        "which baselines to write: none; missing (new ones only); changed (missing and mismatched); all "
        "(also accepts form drift)",
        default="none",
        kind="choice",
        choices=tuple(m.value for m in UpdateMode),
        metavar="MODE",
    ),
    Option(
        "invokeai_accept_drift",
        "accept form drift: rewrite the stored index maps of drifted workflows and run their tests",
        default=False,
        kind="bool",
    ),
    Option(
        "invokeai_results_dir",
        "where mismatch artifacts (actual, baseline, diff images) go, relative to the rootdir",
        default="invokeai-results",
        metavar="DIR",
    ),
    Option(
        "invokeai_report",
        "path of the HTML report, relative to the rootdir (a JSON summary is written beside it); "
        "'none' writes no report",
        default=REPORT_IN_RESULTS_DIR,
        metavar="PATH",
    ),
    Option(
        "invokeai_job_summary",
        "also write the run's Markdown job summary (counts, failing cases, the accept command) to this file, "
        "replacing it; GITHUB_STEP_SUMMARY, when set, gets it appended either way",
        metavar="PATH",
    ),
    Option(
        "invokeai_report_embed",
        "put the report's images into report.html as data URIs, for a report that is one file (by default the "
        "images load from the results folder beside it, which keeps a large run's report small and fast)",
        default=False,
        kind="bool",
    ),
    Option(
        "invokeai_no_cache",
        "turn off InvokeAI's node cache for this run's generations (every node really runs)",
        default=False,
        kind="bool",
    ),
    Option(
        "invokeai_save_images",
        "when writing baselines, also keep PNG copies beside them (for visual diffs; makes the repo bigger)",
        default=False,
        kind="bool",
    ),
    Option(
        "invokeai_preview_size",
        "longest side in px of the preview kept beside each baseline image for people (PNG, else JPEG, at most "
        "32,000 bytes); written with every baseline a run writes, and added to baselines that lack one whenever "
        "an update mode is on; 0 turns previews off",
        default=256,
        kind="int",
        metavar="PX",
        minimum=0,
    ),
    Option(
        "invokeai_tolerance",
        "thresholds for every output of the run, e.g. 'color=3,sharpness=0.6' (a marker's tolerance adds to them; "
        "see docs/thresholds.md for the signals)",
        metavar="NAME=VALUE,...",
    ),
    Option(
        "invokeai_schema",
        "node schema file written by 'pytest-invokeai schema fetch', relative to the rootdir: the fields of custom "
        "nodes (and of an InvokeAI other than the one shipped). Default: the InvokeAI 6.14.2 schema shipped with "
        "pytest-invokeai",
        metavar="FILE",
    ),
    Option(
        "invokeai_nodes",
        "custom node packs the managed InvokeAI loads, relative to the rootdir: a pack (a folder with __init__.py) "
        "or a folder of packs; give it several times. With --invokeai-url the packs are only hashed (recorded "
        "with the baselines) and the server must have them",
        default=[],
        kind="list",
        metavar="DIR",
    ),
    Option(
        "invokeai_look_ahead",
        "how many cases to keep queued on the server ahead of the running test",
        default=32,
        kind="int",
        metavar="N",
    ),
)
BY_NAME = {o.name: o for o in OPTIONS}
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


class OptionError(ValueError):
    pass


def convert(option: Option, raw: Any, where: str) -> Any:
    """Turn a text (env or ini) or a parsed value into the option's type; errors say where it came from."""
    if raw is None:
        return option.default
    try:
        if option.kind == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in TRUE_WORDS:
                return True
            if text in FALSE_WORDS:
                return False
            raise ValueError(f"expected one of {', '.join(sorted(TRUE_WORDS | FALSE_WORDS - {''}))}")
        if option.kind == "float":
            number = _number(raw, float)
            if number is None or not math.isfinite(number) or number <= 0:
                raise ValueError("expected a number > 0")
            return number
        if option.kind == "int":
            whole = _number(raw, int)
            if whole is None or whole < option.minimum:
                raise ValueError(f"expected a whole number >= {option.minimum}")
            return whole
        if option.kind == "list":
            # The flag is repeatable and ini lists are one item per line; any item may still hold several.
            items = raw if isinstance(raw, (list, tuple)) else [raw]
            parts = [part for item in items for part in str(item).replace(",", " ").split()]
            for part in parts:
                if option.check is not None:
                    try:
                        option.check(part)
                    except ValueError as exc:  # name the bad item, not the whole list
                        raise OptionError(f"{where}: bad value {part!r} for {option.flag}: {exc}") from None
            return parts
        if option.kind == "choice":
            text = str(raw).strip().lower()
            if text not in option.choices:
                raise ValueError(f"expected one of {', '.join(option.choices)}")
            return text
        text = str(raw).strip()
        if text and option.check is not None:
            option.check(text)
        return text or option.default
    except ValueError as exc:
        if isinstance(exc, OptionError):
            raise
        shown = "(hidden)" if option.secret else repr(raw)
        raise OptionError(f"{where}: bad value {shown} for {option.flag}: {exc}") from None


def _number(raw: Any, kind: type[int] | type[float]) -> Any:
    """``raw`` as an int or float, or None when it is not one (the caller says what is valid)."""
    if isinstance(raw, bool):
        return None
    try:
        number = kind(raw.strip() if isinstance(raw, str) else raw)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if isinstance(raw, str) or number == raw else None  # int(2.5) would quietly give 2


@dataclass(frozen=True)
class Settings:
    """Resolved settings of one run (paths absolute)."""

    urls: list[str]
    token: str | None = field(repr=False)
    timeout: float
    queue: str
    board: str | None
    cleanup: bool
    server_cmd: str | None
    baseline_dir: Path
    baseline_profile: str | None
    update_mode: UpdateMode
    accept_drift: bool
    results_dir: Path
    report: Path | None
    no_cache: bool
    save_images: bool
    look_ahead: int
    hang_timeout: float = DEFAULT_HANG_TIMEOUT
    job_summary: Path | None = None  # --invokeai-job-summary: the Markdown summary's file (replaced each run)
    preview_size: int = 256  # px; 0: no previews (the option's default, baseline.preview.DEFAULT_PREVIEW_SIZE)
    user: str | None = None  # log in as this user (a multi-user InvokeAI)
    password: str | None = field(default=None, repr=False)
    version: str | None = None  # the managed server's InvokeAI release; with URLs, the one the servers must run
    schema: Path | None = None  # a node schema snapshot (None: the bundled one)
    report_embed: bool = False  # images inside report.html rather than beside it
    nodes: list[Path] = field(default_factory=list)  # node pack folders (each a pack, or a folder of packs)
    tolerance: dict[str, float] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # option name -> "command line" | env var | "ini"


def resolve(
    cli: Mapping[str, Any],
    ini: Callable[[str], Any],
    *,
    rootdir: Path,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Settings from parsed command-line values (None = not given), an ini getter and the environment."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for option in OPTIONS:
        given = cli.get(option.name)
        if given not in (None, [], ()):
            values[option.name], sources[option.name] = convert(option, given, "command line"), "command line"
        elif environ.get(option.env, "").strip():  # empty counts as unset, as CI templates often leave it
            values[option.name] = convert(option, environ[option.env], f"environment variable {option.env}")
            sources[option.name] = option.env
        elif option.secret:  # no ini key to read
            values[option.name], sources[option.name] = option.default, "default"
        else:
            raw = ini(option.ini)
            if raw not in (None, "", []):
                values[option.name], sources[option.name] = convert(option, raw, f"ini option {option.ini}"), "ini"
            else:
                values[option.name], sources[option.name] = option.default, "default"

    def path(name: str) -> Path:
        return (rootdir / Path(values[name]).expanduser()).resolve()

    report = values["invokeai_report"]
    results_dir = path("invokeai_results_dir")
    schema = path("invokeai_schema") if values["invokeai_schema"] else None
    if schema is not None:
        _check_schema(schema, _where(BY_NAME["invokeai_schema"], sources["invokeai_schema"]))
    _check_login(values, sources)
    return Settings(
        urls=[u.rstrip("/") for u in values["invokeai_url"]],
        token=values["invokeai_token"],
        timeout=values["invokeai_timeout"],
        queue=values["invokeai_queue"],
        board=values["invokeai_board"],
        cleanup=values["invokeai_cleanup"],
        server_cmd=values["invokeai_server_cmd"],
        baseline_dir=path("invokeai_baseline_dir"),
        baseline_profile=values["invokeai_baseline_profile"],
        update_mode=UpdateMode.parse(values["invokeai_update_baselines"]),
        accept_drift=values["invokeai_accept_drift"],
        results_dir=results_dir,
        report=_report_path(report, results_dir, path),
        no_cache=values["invokeai_no_cache"],
        save_images=values["invokeai_save_images"],
        look_ahead=values["invokeai_look_ahead"],
        hang_timeout=values["invokeai_hang_timeout"],
        job_summary=path("invokeai_job_summary") if values["invokeai_job_summary"] else None,
        preview_size=values["invokeai_preview_size"],
        user=values["invokeai_user"],
        password=values["invokeai_password"],
        version=values["invokeai_version"],
        schema=schema,
        report_embed=values["invokeai_report_embed"],
        nodes=[(rootdir / Path(each).expanduser()).resolve() for each in values["invokeai_nodes"]],
        tolerance=parse_tolerance(values["invokeai_tolerance"], sources["invokeai_tolerance"]),
        sources=sources,
    )


def _report_path(report: str, results_dir: Path, path: Callable[[str], Path]) -> Path | None:
    """The HTML report's path: none, the one given, or by default report.html in the results folder."""
    if str(report).lower() == "none":
        return None
    return results_dir / "report.html" if report == REPORT_IN_RESULTS_DIR else path("invokeai_report")


def _check_login(values: Mapping[str, Any], sources: Mapping[str, str]) -> None:
    """A token or a user (with a password): which one signs in must be clear; a password alone means nothing."""
    user, password, token = values["invokeai_user"], values["invokeai_password"], values["invokeai_token"]
    if user and token:
        raise OptionError(
            f"--invokeai-user ({_where(BY_NAME['invokeai_user'], sources['invokeai_user'])}) and --invokeai-token "
            f"({_where(BY_NAME['invokeai_token'], sources['invokeai_token'])}) both say how to sign in: give one"
        )
    if user and not password:
        raise OptionError(
            f"--invokeai-user {user} needs that user's password: set {BY_NAME['invokeai_password'].env} "
            "(or give --invokeai-password for a quick local try)"
        )
    if password and not user:
        raise OptionError(
            f"a password is set ({_where(BY_NAME['invokeai_password'], sources['invokeai_password'])}) but no user "
            "to log in as: give --invokeai-user EMAIL (or unset the password)"
        )
    if user and not values["invokeai_url"]:
        raise OptionError(
            f"--invokeai-user {user}: the managed server runs in single-user mode and needs no login; give "
            "--invokeai-url for a multi-user server"
        )


def _where(option: Option, source: str) -> str:
    """Where a resolved value came from, in the words of :func:`convert`'s errors."""
    if source == option.env:
        return f"environment variable {option.env}"
    return f"ini option {option.ini}" if source == "ini" else source


def _check_schema(path: Path, where: str) -> None:
    """A schema file that cannot be used is a usage error, said once (it is read once: the load is cached)."""
    from pytest_invokeai.workflow.schema import SchemaError, load_schema

    try:
        load_schema(path)
    except SchemaError as exc:
        raise OptionError(f"{where}: bad value for --invokeai-schema: {exc}") from None


def parse_tolerance(text: str | None, where: str) -> dict[str, float]:
    """``"color=3, sharpness=0.6"`` -> ``{"color": 3.0, "sharpness": 0.6}``, names checked against the signals."""
    if not text:
        return {}
    from pytest_invokeai.baseline.compare import Thresholds

    overrides: dict[str, float] = {}
    for part in str(text).replace(";", ",").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        try:
            if not sep:
                raise ValueError(f"expected NAME=VALUE, got {part.strip()!r}")
            overrides[name.strip()] = float(value)
            Thresholds().with_overrides(overrides)
        except ValueError as exc:
            raise OptionError(f"{where}: bad value {text!r} for --invokeai-tolerance: {exc}") from None
    return overrides
