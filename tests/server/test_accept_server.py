"""``pytest-invokeai accept`` on the results of real runs against a real InvokeAI.

One run of a copy of the example suite, with the noise workflow edited (5 mismatches) and the colour
blocks unchanged (5 matches), under xdist, makes the results folder every test here starts from (each
test works in its own copy of the project). Accepting contacts no server: the server's queue holds as
many items after it as before, and the next run passes.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from accept_cases import (
    BLOCKS,
    NOISE,
    NOISE_IDS,
    NOISE_TESTS,
    accept,
    baseline_files,
    clean_env,
    edit_json,
    make_failed_project,
    queued_total,
    record_of,
    run_pytest,
)
from example_runs import swap_block_x_and_y


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory, invokeai_server_url):
    """A project whose last run (2 xdist workers) mismatched the 5 noise cases and matched the 5 colour blocks."""
    project = tmp_path_factory.mktemp("failed-run")
    output = make_failed_project(project, invokeai_server_url, NOISE_TESTS, BLOCKS, args=("-n", "2"))
    assert " 5 failed, 5 passed in " in output.strip().splitlines()[-1], output[-3000:]
    return project, output


@pytest.fixture
def project(failed_run, tmp_path):
    copy = tmp_path / "project"
    shutil.copytree(failed_run[0], copy)
    return copy


def test_the_printed_hint_accepts_the_case_when_run_as_printed(failed_run, project):
    hints = re.findall(r"accept it with: (.+)", failed_run[1])
    # each failure names its command once; CI=true makes pytest repeat the whole message in its short summary
    assert len(set(hints)) == 5, failed_run[1][-3000:]
    hint = next(h for h in hints if "Seed=8-Blur radius=2.0" in h)
    before = record_of(project, NOISE_IDS[3]).read_bytes()
    done = subprocess.run(hint, shell=True, cwd=project, env=clean_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"({NOISE_IDS[3]})" in done.stdout
    after = json.loads(record_of(project, NOISE_IDS[3]).read_text())
    assert record_of(project, NOISE_IDS[3]).read_bytes() != before
    assert after["test_id"] == NOISE_IDS[3]


def test_accept_failed_makes_the_next_run_pass_with_no_generation_in_between(project, invokeai_server_url):
    queued = queued_total(invokeai_server_url)
    done = accept(project, "--failed")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(re.findall(r"^wrote .*\((.+)\)$", done.stdout, re.M)) == NOISE_IDS
    assert queued_total(invokeai_server_url) == queued  # accepting generated nothing
    again = accept(project, "--failed")
    assert again.returncode == 1, again.stdout + again.stderr
    assert again.stdout.count("already accepted") == 5 and "nothing to accept" in again.stdout
    rerun = run_pytest(project, NOISE_TESTS, BLOCKS, f"--invokeai-url={invokeai_server_url}")
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    assert "10 passed" in rerun.stdout.strip().splitlines()[-1]


def test_matched_cases_are_listed_not_written_and_an_unknown_case_is_a_usage_error(project):
    before = baseline_files(project)
    matched = accept(project, "red-block-top-left")
    assert matched.returncode == 1, matched.stdout + matched.stderr
    assert "not written  example_suite/color_blocks.invokeai.toml::red-block-top-left: matched" in matched.stdout
    unknown = accept(project, "no-such-case")
    assert unknown.returncode == 2 and "no test id 'no-such-case'" in unknown.stderr, unknown.stderr
    ambiguous = accept(project, "Seed=7")
    assert ambiguous.returncode == 2 and "matches 2 test ids" in ambiguous.stderr, ambiguous.stderr
    assert baseline_files(project) == before


def test_an_edited_workflow_or_another_profile_is_refused_naming_the_workflow(project):
    before = baseline_files(project)
    other_profile = accept(project, "--failed", "--profile", "cuda")
    assert other_profile.returncode == 2, other_profile.stdout + other_profile.stderr
    assert f"(workflow {NOISE}): the run was judged against the default baselines, not profile cuda" in (
        other_profile.stdout
    )

    def weaker_still(data):
        next(n for n in data["nodes"] if n["data"]["type"] == "img_noise")["data"]["inputs"]["amount"]["value"] = 0.2

    edit_json(project / NOISE, weaker_still)
    edited = accept(project, "--failed")
    assert edited.returncode == 2, edited.stdout + edited.stderr
    assert edited.stdout.count(f"(workflow {NOISE}): the workflow file changed since the run") == 5
    assert "refused; nothing was written" in edited.stderr
    assert baseline_files(project) == before


def test_a_results_folder_copied_elsewhere_is_accepted_dry_run_first(project, tmp_path):
    elsewhere = tmp_path / "downloaded-artifact"
    shutil.move(project / "invokeai-results", elsewhere)
    before = baseline_files(project)
    dry = accept(project, "--failed", "--results", str(elsewhere), "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert dry.stdout.count("would write") == 5
    assert baseline_files(project) == before
    done = accept(project, NOISE_IDS[4], "--results", str(elsewhere))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("wrote  baselines/example_suite/test_noise_texture.py/test_output_has_the_size")
    assert (
        record_of(project, NOISE_IDS[4]).read_bytes()
        != before[record_of(project, NOISE_IDS[4]).relative_to(project).as_posix()]
    )


def test_accept_drift_rewrites_the_index_map_and_lists_the_cases_to_run_again(
    failed_run, tmp_path, invokeai_server_url
):
    project = tmp_path / "drift"
    shutil.copytree(failed_run[0], project)

    edit_json(project / "example_suite/workflows/color-blocks.json", swap_block_x_and_y)
    drifted = run_pytest(project, BLOCKS, f"--invokeai-url={invokeai_server_url}")
    assert "5 failed" in drifted.stdout.strip().splitlines()[-1], drifted.stdout[-3000:]
    index_map = project / "baselines/_index_maps/example_suite/workflows/color-blocks.json.json"
    old_map = index_map.read_bytes()

    listed = accept(project, "--failed")
    assert listed.returncode == 1, listed.stdout + listed.stderr
    assert listed.stdout.count("drifted: its workflow's form changed; --accept-drift rewrites its index map") == 5
    assert index_map.read_bytes() == old_map

    done = accept(project, "--failed", "--accept-drift")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("rewrote  index map baselines/_index_maps/") == 1
    assert done.stdout.count("run again to record") == 5
    assert index_map.read_bytes() != old_map
    rerun = run_pytest(project, BLOCKS, f"--invokeai-url={invokeai_server_url}")
    assert "changed since its baselines were recorded" not in rerun.stdout, rerun.stdout[-3000:]
