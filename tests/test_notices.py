"""The bot's short comments (review failed, command refused, deploy result): user text goes
out inert — in fences or code spans, mentions and HTML neutralised — under the right marker."""

from __future__ import annotations

from bot import markers, notices
from tests.forgetext import HOSTILE, outside_code, problems


def test_review_failed_fences_the_error() -> None:
    body = notices.review_failed(f"{HOSTILE}\n```\n~~~\n</details>")
    assert markers.first_line(body) == markers.REVIEW
    assert problems(body) == []
    assert "security-team" in body and "security-team" not in outside_code(body)
    assert markers.RECHECK in body


def test_an_internal_error_shows_no_detail() -> None:
    body = notices.review_failed(None)
    assert markers.owns(body, markers.REVIEW) and "internal error" in body and "```" not in body


def test_refusal_names_the_sender_without_mentioning_them() -> None:
    body = notices.refused("mallory")
    assert markers.owns(body, markers.REFUSAL) and "`mallory`" in body
    assert problems(body) == []


def test_deploy_result_quotes_errors_in_fences_under_the_list() -> None:
    body = notices.deploy_result(
        HOSTILE,
        "a" * 40,
        False,
        f"1 failed ({HOSTILE})",
        [(HOSTILE, HOSTILE), ("apps/v1/Deployment/x/y", "denied")],
        [HOSTILE],
    )
    assert markers.owns(body, markers.deploy(HOSTILE))
    assert problems(body) == []
    assert outside_code(body).count("<li>") == 2  # both failures stay list items
