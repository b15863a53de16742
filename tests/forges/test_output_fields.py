"""Every plain-text field the adapters write goes out escaped (bot.markdown.plain) and
within the forge's documented limit, whatever length the caller passed: the pipeline never
cuts text itself."""

from __future__ import annotations

import pytest

from bot.forges import Annotation, GitHubForge, GitLabForge
from bot.forges.github_api import ANNOTATION_MESSAGE_LIMIT, ANNOTATION_TITLE_LIMIT, SUMMARY_LIMIT
from bot.model import State
from bot.redact import remember
from tests.forges.payloads import GH_TOKEN, GL_TOKEN
from tests.forgeserver import GitHubServer, GitLabServer
from tests.forgetext import HOSTILE, plain_problems, problems

GH_REPO, GL_REPO = "octo-org/shop", "acme/shop"
HEAD, BASE = "6" * 40, "7" * 40
SECRET = "s3cr3t-" + "Wx9" * 8
LONG = f"{HOSTILE} token {SECRET} " + "y" * 70_000  # longer than any limit but the note's


@pytest.fixture(autouse=True)
def _known_secret() -> None:
    remember(SECRET)


@pytest.fixture
def gh(github: GitHubServer) -> GitHubForge:
    github.add_pull(GH_REPO, 7, head_sha=HEAD, base_sha=BASE)
    return GitHubForge(github.url, token=GH_TOKEN, seconds_between_writes=None)


@pytest.fixture
def gh_app(github: GitHubServer, app_key: tuple[str, str]) -> GitHubForge:
    github.add_pull(GH_REPO, 7, head_sha=HEAD, base_sha=BASE)
    return GitHubForge(
        github.url,
        app_id=github.app_id,
        private_key=app_key[0],
        installation_id=42,
        seconds_between_writes=None,
    )


@pytest.fixture
def gl(gitlab: GitLabServer) -> GitLabForge:
    gitlab.add_project(GL_REPO, group_id=70)
    gitlab.add_mr(GL_REPO, 3, sha=HEAD, base_sha=BASE)
    return GitLabForge(gitlab.origin, token=GL_TOKEN)


def _clean(value: str, limit: int, *, multiline: bool = False) -> None:
    assert plain_problems(value, limit, multiline=multiline) == []
    assert SECRET not in value and "security-team" in value


def test_github_status_description_is_one_escaped_line_of_140(
    github: GitHubServer, gh: GitHubForge
) -> None:
    gh.set_status(GH_REPO, HEAD, "gitops-bot/review", State.FAILURE, LONG)
    _clean(github.statuses[-1]["description"], 140)


def test_github_deployment_descriptions_are_escaped_lines_of_140(
    github: GitHubServer, gh: GitHubForge
) -> None:
    did = gh.start_deployment(GH_REPO, HEAD, "production", LONG)
    gh.finish_deployment(GH_REPO, did, State.FAILURE, LONG)
    bodies = [r.body for r in github.calls("POST", "/deployments")]
    assert len(bodies) == 3  # the deployment, its in_progress and its failure status
    for body in bodies:
        _clean(body["description"], 140)


def test_github_check_run_summary_and_annotations_fit_and_are_escaped(
    github: GitHubServer, gh_app: GitHubForge
) -> None:
    note = Annotation(path="apps/web/deploy.yaml", start_line=3, message=LONG, title=LONG)
    gh_app.publish_check(GH_REPO, HEAD, "gitops-bot review", State.FAILURE, LONG, [note])
    [request] = github.calls("POST", "/check-runs")
    output = request.body["output"]
    assert len(output["summary"]) <= SUMMARY_LIMIT and problems(output["summary"]) == []
    [sent] = output["annotations"]
    _clean(sent["message"], ANNOTATION_MESSAGE_LIMIT, multiline=True)
    _clean(sent["title"], ANNOTATION_TITLE_LIMIT)


def test_github_comment_is_cut_to_65536_with_its_marker(
    github: GitHubServer, gh: GitHubForge
) -> None:
    cid = gh.upsert_comment(GH_REPO, 7, "z" * 100_000, "<!-- gitops-bot:review -->")
    body = github.comments[int(cid)]["body"]
    assert len(body) <= 65536 and body.startswith("<!-- gitops-bot:review -->\n")


def test_gitlab_status_description_is_one_escaped_line_of_140(
    gitlab: GitLabServer, gl: GitLabForge
) -> None:
    gl.set_status(GL_REPO, HEAD, "gitops-bot/review", State.FAILURE, LONG)
    _clean(gitlab.statuses[-1]["description"], 140)


def test_gitlab_note_is_cut_to_its_limit_with_its_marker(
    gitlab: GitLabServer, gl: GitLabForge
) -> None:
    nid = gl.upsert_comment(GL_REPO, 3, "z" * 1_000_100, "<!-- gitops-bot:review -->")
    body = gitlab.notes[int(nid)]["body"]
    assert len(body) <= gl.comment_limit == 1_000_000
    assert body.startswith("<!-- gitops-bot:review -->\n") and body.endswith("reached)")
