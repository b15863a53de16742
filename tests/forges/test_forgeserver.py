"""The forge test servers really reject what the API descriptions do not allow."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.forges.payloads import GH_TOKEN, GL_TOKEN
from tests.forgeserver import GitHubServer, GitLabServer

SHA = "6" * 40


def gh(server: GitHubServer, method: str, path: str, **kw: Any) -> requests.Response:
    headers = {"Authorization": f"token {GH_TOKEN}"}
    return requests.request(method, server.url + path, headers=headers, timeout=10, **kw)


@pytest.mark.parametrize(
    "method,path,kw,why",
    [
        (
            "POST",
            f"/repos/o/r/statuses/{SHA}",
            {"json": {"state": "green", "context": "c"}},
            "'green' is not one of",
        ),
        ("POST", "/repos/o/r/issues/1/comments", {"json": {"text": "hi"}}, "'body' is a required"),
        (
            "PATCH",
            "/repos/o/r/issues/comments/1",
            {"json": {"body": "x", "pinned": True}},
            "not in the schema",
        ),
        (
            "POST",
            "/repos/o/r/check-runs",
            {"json": {"name": "n", "head_sha": SHA, "conclusion": "error"}},
            "'error' is not one",
        ),
        ("GET", "/repos/o/r/pulls/1/files", {"params": {"per_page": "many"}}, "per_page"),
        ("GET", "/repos/o/r/pulls/1/reviews", {"params": {"state": "APPROVED"}}, "undeclared"),
        ("GET", "/repos/o/r/pulls/one", {}, "pull_number"),
        ("DELETE", "/repos/o/r", {}, "not an operation"),
        ("GET", "/user", {"params": {"x": "1"}}, "unknown query"),
    ],
)
def test_github_server_rejects_what_the_openapi_description_disallows(
    github: GitHubServer, method: str, path: str, kw: dict[str, Any], why: str
) -> None:
    response = gh(github, method, path, **kw)
    assert response.status_code == 422
    assert len(github.violations) == 1 and why in github.violations[0]
    github.violations.clear()  # asserted: do not fail the teardown check


def test_github_server_accepts_a_valid_request(github: GitHubServer) -> None:
    response = gh(
        github,
        "POST",
        f"/repos/o/r/statuses/{SHA}",
        json={"state": "success", "context": "gitops-bot/review"},
    )
    assert response.status_code == 201 and github.violations == []
    assert response.json()["creator"]["login"] == "gitops-bot-user"


def test_github_server_checks_credentials(github: GitHubServer) -> None:
    response = requests.get(
        github.url + "/user", headers={"Authorization": "token nope"}, timeout=10
    )
    assert response.status_code == 401 and response.json()["message"] == "Bad credentials"
    response = requests.get(
        github.url + "/app", headers={"Authorization": f"Bearer {GH_TOKEN}"}, timeout=10
    )
    assert response.status_code == 401  # App endpoints need the App's signed JWT


def test_github_server_limits_annotations_per_request(github: GitHubServer) -> None:
    note = {
        "path": "a.yaml",
        "start_line": 1,
        "end_line": 1,
        "annotation_level": "warning",
        "message": "m",
    }
    response = gh(
        github,
        "POST",
        "/repos/o/r/check-runs",
        json={
            "name": "n",
            "head_sha": SHA,
            "output": {"title": "t", "summary": "s", "annotations": [note] * 51},
        },
    )
    assert response.status_code == 422 and "max 50" in github.violations[0]
    github.violations.clear()


def test_faults_apply_to_the_next_n_matching_calls(github: GitHubServer) -> None:
    github.fail("POST", "/statuses/", 502, times=2)
    body = {"json": {"state": "success", "context": "c"}}
    codes = [gh(github, "POST", f"/repos/o/r/statuses/{SHA}", **body).status_code for _ in range(3)]
    assert codes == [502, 502, 201]


def gl(server: GitLabServer, method: str, path: str, **kw: Any) -> requests.Response:
    return requests.request(
        method, server.url + path, headers={"PRIVATE-TOKEN": GL_TOKEN}, timeout=10, **kw
    )


@pytest.mark.parametrize(
    "method,path,kw,why",
    [
        ("POST", f"/projects/1/statuses/{SHA}", {"json": {"state": "failure"}}, "not one of"),
        ("POST", f"/projects/1/statuses/{SHA}", {"json": {"name": "x"}}, "missing required"),
        (
            "POST",
            f"/projects/1/statuses/{SHA}",
            {"json": {"state": "success", "colour": "red"}},
            "undocumented attribute",
        ),
        ("POST", "/projects/1/merge_requests/2/notes", {"json": {"body": 5}}, "wrong type"),
        ("GET", "/projects/1/merge_requests/2/notes", {"params": {"author": "x"}}, "undocumented"),
        ("DELETE", "/projects/1/merge_requests/2/notes/3", {}, "not a documented endpoint"),
    ],
)
def test_gitlab_server_rejects_undocumented_requests(
    gitlab: GitLabServer, method: str, path: str, kw: dict[str, Any], why: str
) -> None:
    response = gl(gitlab, method, path, **kw)
    assert response.status_code == 422
    assert len(gitlab.violations) == 1 and why in gitlab.violations[0]
    gitlab.violations.clear()


def test_gitlab_note_can_only_be_edited_by_its_author(gitlab: GitLabServer) -> None:
    gitlab.add_project("g/p")
    gitlab.add_mr("g/p", 1, sha=SHA, base_sha=SHA)
    note = gitlab.add_note("g/p", 1, "someone", "theirs")
    response = gl(
        gitlab, "PUT", f"/projects/g%2Fp/merge_requests/1/notes/{note['id']}", json={"body": "mine"}
    )
    assert response.status_code == 403 and gitlab.notes[note["id"]]["body"] == "theirs"
