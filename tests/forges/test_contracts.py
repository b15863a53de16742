"""Contracts of the forge layer: pure parsers, the retry decision, the Forge port."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot import markers

from bot.errors import Ignored, Transient, retry_after
from bot.forges import Forge, ForgeError, GitHubForge, GitLabForge
from bot.forges.base import with_marker
from bot.forges.retry import classify, parse_retry_after


def test_parsers_do_no_io_and_import_no_client_library() -> None:
    """Habit 1: the web tier imports the parsers without PyGithub, python-gitlab, requests."""
    code = (
        "import sys, bot.forges.github_parse, bot.forges.gitlab_parse, bot.forges; "
        "print(sorted(m for m in ('github', 'gitlab', 'requests', 'flask', 'subprocess') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"


def test_adapters_implement_the_forge_port(app_key: tuple[str, str]) -> None:
    gh = GitHubForge("https://ghe.example.com/api/v3", token="t0ken-value")
    gl = GitLabForge("https://gitlab.example.com", token="t0ken-value")
    assert isinstance(gh, Forge) and isinstance(gl, Forge)
    assert (gh.name, gh.comment_limit, gl.name, gl.comment_limit) == (
        "github",
        65536,
        "gitlab",
        1_000_000,
    )


def test_github_forge_needs_exactly_one_auth_mode() -> None:
    with pytest.raises(ValueError):
        GitHubForge(token=None)
    with pytest.raises(ValueError):
        GitHubForge(token="t", app_id=1, private_key="k", installation_id=2)


@pytest.mark.parametrize(
    "exc,expected",
    [
        (Transient("x"), 10.0),
        (Transient("x", retry_after=0.2), 1.0),
        (Transient("x", retry_after=30), 30.0),
        (ForgeError("x", status=404), None),
        (Ignored("ping"), None),
        (ValueError("bug"), None),
        (KeyboardInterrupt(), None),
    ],
)
def test_retry_after_is_the_one_decision(exc: BaseException, expected: float | None) -> None:
    assert retry_after(exc) == expected


@pytest.mark.parametrize(
    "status,headers,message,expected",
    [
        (502, {}, "", None),
        (503, {"Retry-After": "12"}, "", 12.0),
        (429, {"retry-after": "3"}, "", 3.0),
        (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1060"}, "", 60.0),
        (403, {}, "You have exceeded a secondary rate limit", 60.0),
        (403, {"Retry-After": "Thu, 01 Jan 1970 00:20:00 GMT"}, "", 200.0),
    ],
)
def test_classify_transient(
    status: int, headers: dict[str, str], message: str, expected: float | None
) -> None:
    found = classify(status, headers, message, now=lambda: 1000.0)
    assert found is not None and found.retry_after == expected


@pytest.mark.parametrize(
    "status,headers",
    [(403, {}), (404, {}), (422, {}), (401, {}), (403, {"x-ratelimit-remaining": "12"})],
)
def test_classify_final(status: int, headers: dict[str, str]) -> None:
    assert classify(status, headers, "Resource not accessible by integration") is None


def test_parse_retry_after_garbage() -> None:
    assert parse_retry_after("soon", 0.0) is None and parse_retry_after(None, 0.0) is None


def test_marker_is_required_and_kept() -> None:
    for bad in ("", "<!-- m -->"):  # only the bot's own markers (bot.markers)
        with pytest.raises(ValueError):
            with_marker("body", bad, 100)
    m = markers.REVIEW
    out = with_marker("a" * 500, m, 100)
    assert len(out) <= 100 and out.startswith(m + "\n")
    assert with_marker(f"{m}\nok", m, 100) == f"{m}\nok"
    # a marker further down is not the comment's marker: it is put first
    assert with_marker(f"ok\n{m}", m, 100) == f"{m}\nok\n{m}"
