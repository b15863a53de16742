"""Authentication before parsing: GitHub HMAC-SHA256 and GitLab token
(docs/security.md#authenticated-deliveries)."""

from __future__ import annotations

import ast
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from werkzeug.datastructures import EnvironHeaders, Headers

from bot.config import Secret
from bot.web.hooks import github_authentic, gitlab_authentic
from tests.web.appserver import Bot, make_config
from tests.web.hookclient import GL_TOKEN, SECRET, fixture, gitlab_headers, post, sign

KAT_SECRET = "It's a Secret to Everybody"
KAT_BODY = b"Hello, World!"
KAT_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
PR_OPENED = fixture("github/pull_request/opened.payload.json")


def nothing_stored(bot: Bot) -> bool:
    store = bot.store
    return (
        store.count("deliveries") == 0
        and store.count("audit_events") == 0
        and bot.queue.size() == 0
    )


def test_github_known_answer_vector() -> None:
    headers = Headers({"X-Hub-Signature-256": KAT_SIGNATURE})
    assert github_authentic(headers, KAT_BODY, Secret(KAT_SECRET))
    assert not github_authentic(headers, b"Hello, World?", Secret(KAT_SECRET))


def test_known_answer_vector_over_http(tmp_path: Path, serve) -> None:
    bot = serve(make_config(tmp_path, github_webhook_secret=Secret(KAT_SECRET)), None)
    base = [
        ("Content-Type", "application/json"),
        ("X-GitHub-Event", "ping"),
        ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
    ]
    status, answer = post(
        bot.url, "/hooks/github", KAT_BODY, base + [("X-Hub-Signature-256", KAT_SIGNATURE)]
    )
    # Authenticated, then refused by the JSON step: "Hello, World!" is not JSON.
    assert (status, answer["error"]) == (400, "body is not valid JSON")
    status, _ = post(
        bot.url, "/hooks/github", b"Hello, World?", base + [("X-Hub-Signature-256", KAT_SIGNATURE)]
    )
    assert status == 401


def test_signature_with_another_secret_is_401_and_nothing_stored(bot: Bot) -> None:
    status, answer = bot.github("pull_request", PR_OPENED, secret="another-secret")
    assert status == 401
    assert "sha256" not in json.dumps(answer)  # never echo what was expected
    assert nothing_stored(bot)


def test_reserialised_body_is_401(bot: Bot) -> None:
    signature = sign(PR_OPENED)
    reserialised = json.dumps(json.loads(PR_OPENED), sort_keys=True).encode()
    status, _ = post(
        bot.url,
        "/hooks/github",
        reserialised,
        [
            ("Content-Type", "application/json"),
            ("X-GitHub-Event", "pull_request"),
            ("X-GitHub-Delivery", "d-1"),
            ("X-Hub-Signature-256", signature),
        ],
    )
    assert status == 401
    assert nothing_stored(bot)


def test_sha1_only_is_401(bot: Bot) -> None:
    sha1 = "sha1=" + hmac.new(SECRET.encode(), PR_OPENED, hashlib.sha1).hexdigest()
    status, _ = post(
        bot.url,
        "/hooks/github",
        PR_OPENED,
        [
            ("Content-Type", "application/json"),
            ("X-GitHub-Event", "pull_request"),
            ("X-GitHub-Delivery", "d-2"),
            ("X-Hub-Signature", sha1),
        ],
    )
    assert status == 401
    assert nothing_stored(bot)


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(
            ["sha1=" + hmac.new(SECRET.encode(), PR_OPENED, hashlib.sha1).hexdigest()],
            id="sha1-prefix-in-256-header",
        ),
        pytest.param([sign(PR_OPENED).removeprefix("sha256=")], id="no-prefix"),
        pytest.param([sign(PR_OPENED)[:-1]], id="truncated"),
        pytest.param(["sha256=" + "zz" * 32], id="non-hex"),
        pytest.param([""], id="empty"),
        pytest.param(["sha256="], id="prefix-only"),
        pytest.param([sign(PR_OPENED), sign(PR_OPENED)], id="two-headers"),
        pytest.param([sign(PR_OPENED) + "00"], id="too-long"),
        pytest.param([], id="missing"),
    ],
)
def test_malformed_signature_is_401_never_500(bot: Bot, header: list[str]) -> None:
    headers = [
        ("Content-Type", "application/json"),
        ("X-GitHub-Event", "pull_request"),
        ("X-GitHub-Delivery", "d-3"),
    ]
    status, _ = post(
        bot.url, "/hooks/github", PR_OPENED, headers + [("X-Hub-Signature-256", h) for h in header]
    )
    assert status == 401
    assert nothing_stored(bot)


def test_non_ascii_signature_is_401() -> None:
    headers = Headers({"X-Hub-Signature-256": "sha256=" + "é" * 64})
    assert not github_authentic(headers, b"{}", Secret(SECRET))


MR_OPEN = fixture("gitlab/merge_request/open.json")


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("wrong-token", id="wrong"),
        pytest.param(None, id="missing"),
        pytest.param(GL_TOKEN + "x", id="longer"),
        pytest.param(GL_TOKEN[:-1], id="prefix"),
        pytest.param("", id="empty"),
    ],
)
def test_gitlab_bad_token_is_401(bot: Bot, token: str | None) -> None:
    status, _ = bot.gitlab("Merge Request Hook", MR_OPEN, token=token)
    assert status == 401
    assert nothing_stored(bot)


def test_gitlab_token_with_trailing_newline_is_refused() -> None:
    # An LF cannot travel inside an HTTP header, so this case is checked on the verifier,
    # with the header as a WSGI server would hand it over, and the other way round.
    environ = EnvironHeaders({"HTTP_X_GITLAB_TOKEN": GL_TOKEN + "\n"})
    assert not gitlab_authentic(environ, b"{}", Secret(GL_TOKEN))
    assert not gitlab_authentic(
        Headers({"X-Gitlab-Token": GL_TOKEN}), b"{}", Secret(GL_TOKEN + "\n")
    )
    assert not gitlab_authentic(
        Headers([("X-Gitlab-Token", GL_TOKEN)] * 2), b"{}", Secret(GL_TOKEN)
    )
    assert gitlab_authentic(Headers({"X-Gitlab-Token": GL_TOKEN}), b"{}", Secret(GL_TOKEN))


def test_gitlab_correct_token_is_accepted(bot: Bot) -> None:
    status, answer = bot.gitlab("Merge Request Hook", MR_OPEN)
    assert (status, answer["status"]) == (202, "queued")


def test_unconfigured_forge_rejects_every_delivery(tmp_path: Path, serve) -> None:
    bot = serve(make_config(tmp_path, gitlab_webhook_secret=None), None)
    status, _ = post(bot.url, "/hooks/gitlab", MR_OPEN, gitlab_headers("Merge Request Hook"))
    assert status == 404
    assert nothing_stored(bot)


def test_secrets_are_compared_with_compare_digest_only() -> None:
    """Static check (docs/security.md#case-6): no `==`/`!=` on anything that looks like a digest
    or token."""
    source = Path(__file__).resolve().parents[2] / "bot" / "web" / "hooks.py"
    tree = ast.parse(source.read_text())
    suspicious = ("digest", "signature", "token", "secret", "expected", "given")
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(
            isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops
        ):
            text = ast.unparse(node).lower()
            assert not any(word in text for word in suspicious), text
    functions = {n.name: ast.unparse(n) for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert "hmac.compare_digest" in functions["github_authentic"]
    assert "hmac.compare_digest" in functions["gitlab_authentic"]
