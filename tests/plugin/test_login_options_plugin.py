"""The login options as pytest sees them: usage errors before anything runs, no password ini key, no password shown."""

from __future__ import annotations

NOISE_TEST = """
import pytest

@pytest.mark.invokeai(workflow="noise.json")
def test_noise(invokeai_run):
    invokeai_run().assert_matches_baseline()
"""


def test_a_user_and_a_token_together_are_a_usage_error(pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_INVOKEAI_PASSWORD", "pw-never-shown-4")
    pytester.makepyfile(test_noise=NOISE_TEST)
    result = pytester.runpytest_subprocess(
        "--invokeai-url=http://127.0.0.1:9", "--invokeai-user=me@example.com", "--invokeai-token=tok-never-shown"
    )
    assert result.ret == 4  # pytest's usage error: nothing collected, nothing sent
    err = "\n".join(result.errlines)
    assert "--invokeai-user (command line) and --invokeai-token (command line) both say how to sign in: give one" in err
    assert "pw-never-shown-4" not in err + "\n".join(result.outlines)
    assert "tok-never-shown" not in err


def test_a_user_without_a_password_is_a_usage_error_naming_the_variable(pytester, monkeypatch):
    monkeypatch.delenv("PYTEST_INVOKEAI_PASSWORD", raising=False)
    pytester.makeini("[pytest]\ninvokeai_user = me@example.com\ninvokeai_url = http://127.0.0.1:9\n")
    pytester.makepyfile(test_noise=NOISE_TEST)
    result = pytester.runpytest_subprocess()
    assert result.ret == 4
    assert "--invokeai-user me@example.com needs that user's password: set PYTEST_INVOKEAI_PASSWORD" in "\n".join(
        result.errlines
    )


def test_the_ini_has_no_password_key(pytester):
    pytester.makeini("[pytest]\ninvokeai_password = in-a-file-kept-in-git\n")
    pytester.makepyfile(test_noise=NOISE_TEST)
    result = pytester.runpytest_subprocess("--collect-only", "-W", "error::pytest.PytestConfigWarning")
    assert result.ret != 0
    assert "Unknown config option: invokeai_password" in "\n".join(result.errlines + result.outlines)
