"""``pytest-invokeai review`` in real headless Chromium, on the results of a real run against InvokeAI.

A click on ``Accept`` writes that case's baseline file on disk and marks the case at once; ``Accept all
shown`` writes the others; a request without the token, or with another Host, gets 403; Ctrl-C exits 0.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from accept_cases import NOISE_IDS, NOISE_TESTS, baseline_files, clean_env, make_failed_project, record_of

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture (conftest) then skips locally and fails in CI
    expect = None


@pytest.fixture(scope="module")
def failed_project(tmp_path_factory, invokeai_server_url) -> Path:
    project = tmp_path_factory.mktemp("review")
    output = make_failed_project(project, invokeai_server_url, NOISE_TESTS)
    assert " 5 failed in " in output.strip().splitlines()[-1], output[-3000:]
    return project


@pytest.fixture
def review(failed_project):
    """The review of the failed run, started as a user does; (its URL, the process)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest_invokeai.cli", "review", "--no-browser"],
        cwd=failed_project, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = process.stdout.readline().strip()  # the first line, flushed before it serves
        assert url.startswith("http://127.0.0.1:") and "?token=" in url, (url, process.stderr.read())
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def owner_record(name: str, records: set[str]) -> str:
    """The record a baseline file belongs to: itself, or the longest record whose stem and a dot start its name."""
    if name in records:
        return name
    return max((r for r in records if name.startswith(r.removesuffix(".json") + ".")), key=len, default=name)


def test_a_click_on_accept_writes_the_baseline_and_accept_all_shown_the_rest(browser, review, failed_project):
    url, process = review
    before = baseline_files(failed_project)
    first = record_of(failed_project, NOISE_IDS[0])
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    case = page.locator(f'article[data-test-id="{NOISE_IDS[0]}"]').first
    expect(page.get_by_role("button", name="Accept", exact=True)).to_have_count(5)  # one per mismatched output
    case.get_by_role("button", name="Accept", exact=True).click()
    expect(case.locator(".review-note")).to_have_text(f"accepted: wrote {first.name}")
    assert first.read_bytes() != before[first.relative_to(failed_project).as_posix()]
    assert json.loads(first.read_text())["test_id"] == NOISE_IDS[0]
    changed = {name for name, data in baseline_files(failed_project).items() if before.get(name) != data}
    records = {name for name in baseline_files(failed_project) if name.endswith(".json")}
    # the record and the previews beside it, which accepting writes as a run does; nothing of another case
    assert first.relative_to(failed_project).as_posix() in changed
    assert {owner_record(name, records) for name in changed} == {first.relative_to(failed_project).as_posix()}
    assert any(name.endswith((".preview.png", ".preview.jpg")) for name in changed)

    page.get_by_role("button", name="Accept all shown", exact=True).click()
    expect(page.locator("#review-status")).to_have_text("accepted 4 case(s)")
    changed = {name for name, data in baseline_files(failed_project).items() if before.get(name) != data}
    assert {owner_record(name, records) for name in changed} == {
        record_of(failed_project, test_id).relative_to(failed_project).as_posix() for test_id in NOISE_IDS
    }
    expect(page.get_by_role("button", name="Accept", exact=True)).to_have_count(0)
    page.reload()  # accepted cases stay marked
    expect(page.locator('[data-review-state="accepted"]')).to_have_count(5)
    assert errors == []
    page.close()

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0


def test_a_request_without_the_token_or_from_another_host_is_refused(review, failed_project):
    url, _ = review
    base, token = url.split("?token=")
    origin = base.split("/r/")[0]
    before = baseline_files(failed_project)
    assert httpx.get(url).status_code == 200
    assert httpx.get(origin + "/").status_code == 403
    assert httpx.get(origin + "/r/not-the-token/").status_code == 403
    assert httpx.get(url, headers={"Host": "evil.example:80"}).status_code == 403
    body = {"test_ids": [NOISE_IDS[0]]}
    assert httpx.post(origin + "/api/accept", json=body).status_code == 403
    assert httpx.post(origin + "/api/accept", json=body, headers={"X-Review-Token": "wrong"}).status_code == 403
    assert httpx.post(origin + "/api/accept", json=body, headers={"Cookie": f"token={token}"}).status_code == 403
    assert baseline_files(failed_project) == before  # none of these wrote anything
