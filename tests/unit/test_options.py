"""The plugin's settings: command line > PYTEST_INVOKEAI_* environment > ini > default, and clear errors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from pytest_invokeai.baseline.update import UpdateMode
from pytest_invokeai.run.settings import BY_NAME, OPTIONS, OptionError, convert, resolve

# The contract users type: flag, environment variable and ini key of every option, written out by hand.
NAMES = {
    "invokeai_url": ("--invokeai-url", "PYTEST_INVOKEAI_URL"),
    "invokeai_token": ("--invokeai-token", "PYTEST_INVOKEAI_TOKEN"),
    "invokeai_user": ("--invokeai-user", "PYTEST_INVOKEAI_USER"),
    "invokeai_password": ("--invokeai-password", "PYTEST_INVOKEAI_PASSWORD"),
    "invokeai_version": ("--invokeai-version", "PYTEST_INVOKEAI_VERSION"),
    "invokeai_timeout": ("--invokeai-timeout", "PYTEST_INVOKEAI_TIMEOUT"),
    "invokeai_hang_timeout": ("--invokeai-hang-timeout", "PYTEST_INVOKEAI_HANG_TIMEOUT"),
    "invokeai_queue": ("--invokeai-queue", "PYTEST_INVOKEAI_QUEUE"),
    "invokeai_board": ("--invokeai-board", "PYTEST_INVOKEAI_BOARD"),
    "invokeai_cleanup": ("--invokeai-cleanup", "PYTEST_INVOKEAI_CLEANUP"),
    "invokeai_server_cmd": ("--invokeai-server-cmd", "PYTEST_INVOKEAI_SERVER_CMD"),
    "invokeai_baseline_dir": ("--invokeai-baseline-dir", "PYTEST_INVOKEAI_BASELINE_DIR"),
    "invokeai_baseline_profile": ("--invokeai-baseline-profile", "PYTEST_INVOKEAI_BASELINE_PROFILE"),
    "invokeai_update_baselines": ("--invokeai-update-baselines", "PYTEST_INVOKEAI_UPDATE_BASELINES"),
    "invokeai_accept_drift": ("--invokeai-accept-drift", "PYTEST_INVOKEAI_ACCEPT_DRIFT"),
    "invokeai_results_dir": ("--invokeai-results-dir", "PYTEST_INVOKEAI_RESULTS_DIR"),
    "invokeai_report": ("--invokeai-report", "PYTEST_INVOKEAI_REPORT"),
    "invokeai_job_summary": ("--invokeai-job-summary", "PYTEST_INVOKEAI_JOB_SUMMARY"),
    "invokeai_report_embed": ("--invokeai-report-embed", "PYTEST_INVOKEAI_REPORT_EMBED"),
    "invokeai_no_cache": ("--invokeai-no-cache", "PYTEST_INVOKEAI_NO_CACHE"),
    "invokeai_save_images": ("--invokeai-save-images", "PYTEST_INVOKEAI_SAVE_IMAGES"),
    "invokeai_preview_size": ("--invokeai-preview-size", "PYTEST_INVOKEAI_PREVIEW_SIZE"),
    "invokeai_look_ahead": ("--invokeai-look-ahead", "PYTEST_INVOKEAI_LOOK_AHEAD"),
    "invokeai_tolerance": ("--invokeai-tolerance", "PYTEST_INVOKEAI_TOLERANCE"),
    "invokeai_schema": ("--invokeai-schema", "PYTEST_INVOKEAI_SCHEMA"),
    "invokeai_nodes": ("--invokeai-nodes", "PYTEST_INVOKEAI_NODES"),
}


def ini_of(values: Mapping[str, Any]) -> Callable[[str], Any]:
    """An ini getter like pytest's: "" for an unset string key, [] for an unset linelist key."""

    def getini(name: str) -> Any:
        return values.get(name, [] if BY_NAME[name].kind == "list" else "")

    return getini


def settle(
    tmp_path: Path,
    cli: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    ini: Mapping[str, Any] | None = None,
):
    return resolve(cli or {}, ini_of(ini or {}), rootdir=tmp_path, environ=env or {})


def test_every_option_has_the_documented_flag_env_and_ini_names() -> None:
    assert {o.name: (o.flag, o.env) for o in OPTIONS} == NAMES
    for option in OPTIONS:
        assert option.env.startswith("PYTEST_INVOKEAI_")
        assert option.ini == option.name


def test_defaults_when_nothing_is_given(tmp_path: Path) -> None:
    settings = settle(tmp_path)
    assert settings.urls == []
    assert settings.token is None
    assert settings.timeout == 600.0
    assert settings.hang_timeout == 60.0
    assert settings.queue == "default"
    assert settings.board is None
    assert settings.cleanup is False
    assert settings.server_cmd is None
    assert settings.baseline_dir == tmp_path / "baselines"
    assert settings.baseline_profile is None
    assert settings.update_mode is UpdateMode.NONE
    assert settings.accept_drift is False
    assert settings.results_dir == tmp_path / "invokeai-results"
    assert settings.report == tmp_path / "invokeai-results" / "report.html"
    assert settings.no_cache is False
    assert settings.save_images is False
    assert settings.look_ahead == 32
    assert settings.preview_size == 256
    assert settings.tolerance == {}
    assert settings.schema is None  # the bundled schema
    assert settings.job_summary is None
    assert set(settings.sources) == set(NAMES)
    assert set(settings.sources.values()) == {"default"}


# One row per kind: (option, Settings field, command line, env, ini, and the value each gives).
PRECEDENCE = [
    ("invokeai_timeout", "timeout", "30", "45.5", "90", 30.0, 45.5, 90.0),
    ("invokeai_hang_timeout", "hang_timeout", "3", "7.5", "120", 3.0, 7.5, 120.0),
    ("invokeai_look_ahead", "look_ahead", "4", "8", "16", 4, 8, 16),
    ("invokeai_preview_size", "preview_size", "0", "128", "64", 0, 128, 64),  # 0 turns previews off
    ("invokeai_cleanup", "cleanup", True, "off", "true", True, False, True),
    ("invokeai_no_cache", "no_cache", True, "no", "1", True, False, True),
    (
        "invokeai_update_baselines",
        "update_mode",
        "missing",
        "CHANGED",
        "all",
        UpdateMode.MISSING,
        UpdateMode.CHANGED,
        UpdateMode.ALL,
    ),
    ("invokeai_queue", "queue", "q-cli", "q-env", "q-ini", "q-cli", "q-env", "q-ini"),
    ("invokeai_board", "board", "Nightly", "From env", "From ini", "Nightly", "From env", "From ini"),
    (
        "invokeai_url",
        "urls",
        ["http://cli-a:9090", "http://cli-b:9090/"],
        "http://env-a:9090, http://env-b:9090",
        ["http://ini-a:9090", "http://ini-b:9090"],
        ["http://cli-a:9090", "http://cli-b:9090"],
        ["http://env-a:9090", "http://env-b:9090"],
        ["http://ini-a:9090", "http://ini-b:9090"],
    ),
]


@pytest.mark.parametrize(
    ("name", "field", "cli", "env", "ini", "from_cli", "from_env", "from_ini"),
    PRECEDENCE,
    ids=[r[0] for r in PRECEDENCE],
)
def test_command_line_beats_env_beats_ini_beats_default(
    tmp_path: Path, name: str, field: str, cli: Any, env: str, ini: Any, from_cli: Any, from_env: Any, from_ini: Any
) -> None:
    env_name = NAMES[name][1]
    everything = settle(tmp_path, cli={name: cli}, env={env_name: env}, ini={name: ini})
    assert getattr(everything, field) == from_cli
    assert everything.sources[name] == "command line"

    no_cli = settle(tmp_path, env={env_name: env}, ini={name: ini})
    assert getattr(no_cli, field) == from_env
    assert no_cli.sources[name] == env_name

    ini_only = settle(tmp_path, ini={name: ini})
    assert getattr(ini_only, field) == from_ini
    assert ini_only.sources[name] == "ini"


def test_the_schema_file_follows_the_same_precedence_and_resolves_against_the_rootdir(tmp_path: Path) -> None:
    bundled = (Path(__file__).parents[2] / "pytest_invokeai/workflow/data/invocation-schema.json").read_bytes()
    for name in ("cli", "env", "ini"):
        (tmp_path / f"{name}.schema.json").write_bytes(bundled)
    name, env_name = "invokeai_schema", "PYTEST_INVOKEAI_SCHEMA"
    given = {"cli": {name: "cli.schema.json"}, "env": {env_name: "env.schema.json"}, "ini": {name: "ini.schema.json"}}
    assert settle(tmp_path, **given).schema == tmp_path / "cli.schema.json"
    assert settle(tmp_path, env=given["env"], ini=given["ini"]).schema == tmp_path / "env.schema.json"
    assert settle(tmp_path, ini=given["ini"]).schema == tmp_path / "ini.schema.json"
    assert settle(tmp_path, ini=given["ini"]).sources[name] == "ini"


@pytest.mark.parametrize(
    ("where", "given", "source"),
    [
        ("cli", {"cli": {"invokeai_schema": "nope.json"}}, "command line"),
        ("env", {"env": {"PYTEST_INVOKEAI_SCHEMA": "nope.json"}}, "environment variable PYTEST_INVOKEAI_SCHEMA"),
        ("ini", {"ini": {"invokeai_schema": "nope.json"}}, "ini option invokeai_schema"),
    ],
)
def test_a_schema_file_that_cannot_be_read_is_a_usage_error_naming_where_it_was_set(
    tmp_path: Path, where: str, given: dict[str, Any], source: str
) -> None:
    with pytest.raises(OptionError) as caught:
        settle(tmp_path, **given)
    assert str(caught.value).startswith(
        f"{source}: bad value for --invokeai-schema: {tmp_path / 'nope.json'}: cannot read"
    )


def test_paths_follow_the_same_precedence_and_resolve_against_the_rootdir(tmp_path: Path) -> None:
    name, env_name = "invokeai_baseline_dir", "PYTEST_INVOKEAI_BASELINE_DIR"
    assert (
        settle(tmp_path, cli={name: "b-cli"}, env={env_name: "b-env"}, ini={name: "b-ini"}).baseline_dir
        == tmp_path / "b-cli"
    )
    assert settle(tmp_path, env={env_name: "b-env"}, ini={name: "b-ini"}).baseline_dir == tmp_path / "b-env"
    assert settle(tmp_path, ini={name: "sub/b-ini"}).baseline_dir == tmp_path / "sub" / "b-ini"
    assert settle(tmp_path, ini={"invokeai_results_dir": "../elsewhere"}).results_dir == tmp_path.parent / "elsewhere"
    absolute = tmp_path / "abs" / "store"
    assert settle(tmp_path / "root", cli={name: str(absolute)}).baseline_dir == absolute


def test_a_home_relative_path_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    settings = settle(tmp_path / "root", env={"PYTEST_INVOKEAI_RESULTS_DIR": "~/results"})
    assert settings.results_dir == tmp_path / "home" / "results"


def test_the_report_goes_into_the_results_folder_unless_given(tmp_path: Path) -> None:
    """Each results folder (a CI shard's) holds its own report: two shards never overwrite one report."""
    shard = settle(tmp_path, cli={"invokeai_results_dir": "shard-a"})
    assert shard.report == tmp_path / "shard-a" / "report.html"
    from_env = settle(tmp_path, env={"PYTEST_INVOKEAI_RESULTS_DIR": "out/shard-b"})
    assert from_env.report == tmp_path / "out" / "shard-b" / "report.html"
    given = settle(tmp_path, cli={"invokeai_results_dir": "shard-a", "invokeai_report": "reports/r.html"})
    assert given.report == tmp_path / "reports" / "r.html"


def test_job_summary_path_from_option_env_or_ini(tmp_path: Path) -> None:
    assert settle(tmp_path, cli={"invokeai_job_summary": "s.md"}).job_summary == tmp_path / "s.md"
    assert settle(tmp_path, env={"PYTEST_INVOKEAI_JOB_SUMMARY": "e.md"}).job_summary == tmp_path / "e.md"
    assert settle(tmp_path, ini={"invokeai_job_summary": "out/i.md"}).job_summary == tmp_path / "out" / "i.md"


def test_report_path_is_relative_to_the_rootdir_and_none_disables_it(tmp_path: Path) -> None:
    assert settle(tmp_path, cli={"invokeai_report": "out/r.html"}).report == tmp_path / "out" / "r.html"
    assert settle(tmp_path, cli={"invokeai_report": "none"}).report is None
    assert settle(tmp_path, env={"PYTEST_INVOKEAI_REPORT": "None"}).report is None
    assert settle(tmp_path, ini={"invokeai_report": "NONE"}).report is None


@pytest.mark.parametrize("word", ["1", "true", "yes", "on", "TRUE", " Yes ", "On"])
def test_bool_words_meaning_true(tmp_path: Path, word: str) -> None:
    assert settle(tmp_path, env={"PYTEST_INVOKEAI_CLEANUP": word}).cleanup is True
    assert settle(tmp_path, ini={"invokeai_save_images": word}).save_images is True


@pytest.mark.parametrize("word", ["0", "false", "no", "off", "FALSE", " Off "])
def test_bool_words_meaning_false(tmp_path: Path, word: str) -> None:
    # ini says true, so only a real "false" from the environment turns it off
    settings = settle(tmp_path, env={"PYTEST_INVOKEAI_CLEANUP": word}, ini={"invokeai_cleanup": "true"})
    assert settings.cleanup is False


def test_an_empty_environment_variable_counts_as_unset(tmp_path: Path) -> None:
    env = {"PYTEST_INVOKEAI_TIMEOUT": "", "PYTEST_INVOKEAI_CLEANUP": " ", "PYTEST_INVOKEAI_QUEUE": ""}
    settings = settle(tmp_path, env=env, ini={"invokeai_timeout": "90", "invokeai_cleanup": "yes"})
    assert settings.timeout == 90.0
    assert settings.sources["invokeai_timeout"] == "ini"
    assert settings.cleanup is True
    assert settings.queue == "default"
    assert settings.sources["invokeai_queue"] == "default"


@pytest.mark.parametrize(
    ("cli", "env", "ini", "expected"),
    [
        (None, "http://a:1,http://b:2  http://c:3", None, ["http://a:1", "http://b:2", "http://c:3"]),
        (["http://a:1,http://b:2", "http://c:3/"], None, None, ["http://a:1", "http://b:2", "http://c:3"]),
        (None, None, ["http://a:1, http://b:2", "http://c:3"], ["http://a:1", "http://b:2", "http://c:3"]),
        (None, None, "http://a:1 http://b:2", ["http://a:1", "http://b:2"]),
        (None, "http://host/invoke/", None, ["http://host/invoke"]),
    ],
    ids=["env-commas-and-spaces", "repeated-flag-with-commas", "ini-lines-with-commas", "ini-string", "trailing-slash"],
)
def test_url_lists(tmp_path: Path, cli: Any, env: str | None, ini: Any, expected: list[str]) -> None:
    settings = settle(
        tmp_path,
        cli={"invokeai_url": cli} if cli else None,
        env={"PYTEST_INVOKEAI_URL": env} if env else None,
        ini={"invokeai_url": ini} if ini else None,
    )
    assert settings.urls == expected


@pytest.mark.parametrize(
    ("source", "name", "raw", "where", "valid"),
    [
        ("env", "invokeai_timeout", "abc", "environment variable PYTEST_INVOKEAI_TIMEOUT", "expected a number > 0"),
        ("env", "invokeai_timeout", "0", "environment variable PYTEST_INVOKEAI_TIMEOUT", "expected a number > 0"),
        ("ini", "invokeai_timeout", "-5", "ini option invokeai_timeout", "expected a number > 0"),
        ("ini", "invokeai_timeout", "nan", "ini option invokeai_timeout", "expected a number > 0"),
        ("cli", "invokeai_timeout", "inf", "command line", "expected a number > 0"),
        ("cli", "invokeai_look_ahead", "0", "command line", "expected a whole number >= 1"),
        (
            "env",
            "invokeai_look_ahead",
            "2.5",
            "environment variable PYTEST_INVOKEAI_LOOK_AHEAD",
            "expected a whole number >= 1",
        ),
        ("ini", "invokeai_look_ahead", "many", "ini option invokeai_look_ahead", "expected a whole number >= 1"),
        ("cli", "invokeai_preview_size", "-1", "command line", "expected a whole number >= 0"),
        (
            "env",
            "invokeai_preview_size",
            "big",
            "environment variable PYTEST_INVOKEAI_PREVIEW_SIZE",
            "expected a whole number >= 0",
        ),
        (
            "env",
            "invokeai_cleanup",
            "maybe",
            "environment variable PYTEST_INVOKEAI_CLEANUP",
            "expected one of 0, 1, false, no, off, on, true, yes",
        ),
        (
            "ini",
            "invokeai_accept_drift",
            "2",
            "ini option invokeai_accept_drift",
            "expected one of 0, 1, false, no, off, on, true, yes",
        ),
        (
            "cli",
            "invokeai_update_baselines",
            "sometimes",
            "command line",
            "expected one of none, missing, changed, all",
        ),
        (
            "env",
            "invokeai_update_baselines",
            "every",
            "environment variable PYTEST_INVOKEAI_UPDATE_BASELINES",
            "expected one of none, missing, changed, all",
        ),
        ("cli", "invokeai_hang_timeout", "0", "command line", "expected a number > 0"),
        (
            "env",
            "invokeai_hang_timeout",
            "soon",
            "environment variable PYTEST_INVOKEAI_HANG_TIMEOUT",
            "expected a number > 0",
        ),
        (
            "cli",
            "invokeai_url",
            "notaurl",
            "command line",
            "expected the URL of an InvokeAI server, such as http://127.0.0.1:9090",
        ),
        (
            "env",
            "invokeai_url",
            "localhost:9090",
            "environment variable PYTEST_INVOKEAI_URL",
            "did you mean http://localhost:9090?",
        ),
        ("ini", "invokeai_url", "ftp://host:21", "ini option invokeai_url", "such as http://127.0.0.1:9090"),
        ("cli", "invokeai_url", "http://host:99999", "command line", "the port is not a number from 0 to 65535"),
        ("env", "invokeai_url", "http://", "environment variable PYTEST_INVOKEAI_URL", "such as http://127.0.0.1:9090"),
    ],
)
def test_bad_values_name_where_they_came_from_and_what_is_valid(
    tmp_path: Path, source: str, name: str, raw: str, where: str, valid: str
) -> None:
    given = {"cli": {}, "env": {}, "ini": {}}
    given[source] = {NAMES[name][1] if source == "env" else name: raw}
    with pytest.raises(OptionError) as caught:
        settle(tmp_path, cli=given["cli"], env=given["env"], ini=given["ini"])
    message = str(caught.value)
    assert message.startswith(where + ":")
    assert repr(raw) in message
    assert NAMES[name][0] in message
    assert valid in message


def test_a_bad_url_in_a_list_is_named_alone(tmp_path: Path) -> None:
    with pytest.raises(OptionError) as caught:
        settle(tmp_path, env={"PYTEST_INVOKEAI_URL": "http://gpu1:9090, gpu2"})
    assert str(caught.value).startswith(
        "environment variable PYTEST_INVOKEAI_URL: bad value 'gpu2' for --invokeai-url:"
    )


def test_convert_takes_python_values_too() -> None:
    assert convert(BY_NAME["invokeai_timeout"], 12, "test") == 12.0
    assert convert(BY_NAME["invokeai_look_ahead"], 3, "test") == 3
    assert convert(BY_NAME["invokeai_cleanup"], True, "test") is True
    with pytest.raises(OptionError, match="whole number"):
        convert(BY_NAME["invokeai_look_ahead"], 2.5, "test")  # not silently 2
    with pytest.raises(OptionError, match="number > 0"):
        convert(BY_NAME["invokeai_timeout"], True, "test")


def test_help_states_default_env_and_ini() -> None:
    for option in OPTIONS:
        if option.secret:  # the password: env only (tested with the login options)
            continue
        text = option.help_text()
        assert option.help in text
        assert f"env {option.env}" in text
        assert f"ini {option.ini}" in text
        assert "default: " in text
    assert (
        "(default: 600; env PYTEST_INVOKEAI_TIMEOUT; ini invokeai_timeout)" in BY_NAME["invokeai_timeout"].help_text()
    )
    assert "default: <results dir>/report.html" in BY_NAME["invokeai_report"].help_text()
    assert "default: 32;" in BY_NAME["invokeai_look_ahead"].help_text()
    assert "default: none;" in BY_NAME["invokeai_url"].help_text()
    # a bool flag takes no value, so the help says what the env and ini take
    assert "(default: off; env PYTEST_INVOKEAI_CLEANUP=1|0; ini invokeai_cleanup = true|false)" in (
        BY_NAME["invokeai_cleanup"].help_text()
    )


def test_run_wide_tolerance_is_parsed_and_checked_against_the_signals(tmp_path: Path) -> None:
    settings = settle(tmp_path, cli={"invokeai_tolerance": "color=3, sharpness=0.6"})
    assert settings.tolerance == {"color": 3.0, "sharpness": 0.6}
    with pytest.raises(
        OptionError,
        match=r"--invokeai-tolerance: unknown threshold name\(s\): ssim; valid names: phash, color, layout, sharpness",
    ):
        settle(tmp_path, cli={"invokeai_tolerance": "ssim=0.1"})
    with pytest.raises(OptionError, match="expected NAME=VALUE, got 'color'"):
        settle(tmp_path, cli={"invokeai_tolerance": "color"})


URL = {"invokeai_url": ["http://shared-box:9090"]}


def test_a_user_logs_in_with_the_password_from_the_environment_and_the_ini_holds_only_the_user(tmp_path: Path) -> None:
    settings = settle(tmp_path, URL, env={"PYTEST_INVOKEAI_PASSWORD": "s3cret-pw"}, ini={"invokeai_user": "me@x.org"})
    assert (settings.user, settings.password) == ("me@x.org", "s3cret-pw")
    assert "s3cret-pw" not in repr(settings)
    # The ini is never asked for a password: a file kept in git is no place for one.
    asked: list[str] = []

    def ini(name: str) -> Any:
        asked.append(name)
        return ""

    resolve(URL, ini, rootdir=tmp_path, environ={})
    assert "invokeai_password" not in asked and "invokeai_user" in asked
    assert "no ini key" in BY_NAME["invokeai_password"].help_text()


def test_signing_in_two_ways_or_half_a_login_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match=r"--invokeai-user .* and --invokeai-token .* both say how to sign in"):
        settle(
            tmp_path,
            {**URL, "invokeai_user": "me@x.org", "invokeai_token": "tok"},
            env={"PYTEST_INVOKEAI_PASSWORD": "pw"},
        )
    with pytest.raises(
        OptionError, match=r"--invokeai-user me@x.org needs that user's password: set PYTEST_INVOKEAI_PASSWORD"
    ):
        settle(tmp_path, {**URL, "invokeai_user": "me@x.org"})
    with pytest.raises(
        OptionError, match=r"a password is set \(environment variable PYTEST_INVOKEAI_PASSWORD\) but no user"
    ) as info:
        settle(tmp_path, URL, env={"PYTEST_INVOKEAI_PASSWORD": "s3cret-pw"})
    assert "s3cret-pw" not in str(info.value)
    with pytest.raises(OptionError, match=r"the managed server runs in single-user mode"):
        settle(tmp_path, {"invokeai_user": "me@x.org"}, env={"PYTEST_INVOKEAI_PASSWORD": "pw"})


def test_the_version_is_a_release_number(tmp_path: Path) -> None:
    assert settle(tmp_path, env={"PYTEST_INVOKEAI_VERSION": "6.13.8"}).version == "6.13.8"
    assert settle(tmp_path).version is None
    with pytest.raises(
        OptionError,
        match=r"ini option invokeai_version: bad value 'latest' for --invokeai-version: expected an InvokeAI release number such as 6.14.2",
    ):
        settle(tmp_path, ini={"invokeai_version": "latest"})


def test_the_password_flag_is_for_a_quick_local_try_and_wins_over_the_environment(tmp_path: Path) -> None:
    cli = {**URL, "invokeai_user": "me@x.org", "invokeai_password": "flag-pw"}
    settings = settle(tmp_path, cli, env={"PYTEST_INVOKEAI_PASSWORD": "env-pw"})
    assert settings.password == "flag-pw" and settings.sources["invokeai_password"] == "command line"
    assert "flag-pw" not in repr(settings)
