"""Request shapes of the GitLab REST v4 endpoints the adapter uses, transcribed from GitLab docs.

Be clear about what this is: GitLab publishes no machine-readable description that covers
these endpoints (its OpenAPI v2 file has no Notes API; see
tests/fixtures/gitlab/rest-api/OPENAPI-COVERAGE.md). So each entry below was written by hand
from the "Supported attributes" tables of the named doc page. Checked per request: the
method + path is listed, query parameter names are documented, body keys are documented,
required body keys are present, and enum / type constraints hold where the docs state them.
Not checked: headers, response shapes, attributes' interplay (e.g. `ref` vs `pipeline_id`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tests.forgeserver.core import Invalid

PAGINATION = frozenset({"page", "per_page", "pagination", "order_by", "sort"})


@dataclass(frozen=True)
class Shape:
    """One documented endpoint."""

    method: str
    path: str  # regex on the path after /api/v4
    doc: str
    query: frozenset[str] = frozenset()
    required: frozenset[str] = frozenset()
    body: dict[str, type | tuple[type, ...] | frozenset[str]] = field(default_factory=dict)


# deployments.md, Create / Update a deployment: "One of running, success, failed, or canceled".
DEPLOYMENT_STATUSES = frozenset({"running", "success", "failed", "canceled"})
P = r"/projects/[^/]+"
MR = P + r"/merge_requests/\d+"
SHAPES = [
    # https://docs.gitlab.com/api/users/#retrieve-the-current-user
    Shape("GET", r"/user", "users.md: Get the current user"),
    # https://docs.gitlab.com/api/users/#list-users (username filter)
    Shape("GET", r"/users", "users.md: List users", query=frozenset({"username"}) | PAGINATION),
    # https://docs.gitlab.com/api/projects/#get-a-single-project
    Shape(
        "GET",
        P,
        "projects.md: Get a single project",
        query=frozenset({"statistics", "license", "with_custom_attributes"}),
    ),
    # https://docs.gitlab.com/api/merge_requests/#get-single-mr
    Shape(
        "GET",
        MR,
        "merge_requests.md: Get single MR",
        query=frozenset(
            {"render_html", "include_diverged_commits_count", "include_rebase_in_progress"}
        ),
    ),
    # https://docs.gitlab.com/api/merge_requests/#list-project-merge-requests
    Shape(
        "GET",
        P + r"/merge_requests",
        "merge_requests.md: List project merge requests",
        query=frozenset(
            {
                "state",
                "target_branch",
                "source_branch",
                "scope",
                "view",
                "labels",
                "author_username",
                "updated_after",
                "created_after",
                "with_labels_details",
                "with_merge_status_recheck",
            }
        )
        | PAGINATION,
    ),
    # https://docs.gitlab.com/api/merge_requests/#list-merge-request-diffs
    Shape(
        "GET",
        MR + r"/diffs",
        "merge_requests.md: List merge request diffs",
        query=frozenset({"page", "per_page", "unidiff", "pagination"}),
    ),
    # https://docs.gitlab.com/api/merge_request_approvals/ (Get Configuration, MR level)
    Shape("GET", MR + r"/approvals", "merge_request_approvals.md: MR approvals"),
    # https://docs.gitlab.com/api/notes/#list-all-merge-request-notes
    Shape(
        "GET",
        MR + r"/notes",
        "notes.md: List all merge request notes",
        query=frozenset({"sort", "order_by"}) | PAGINATION,
    ),
    # https://docs.gitlab.com/api/notes/#create-new-merge-request-note
    Shape(
        "POST",
        MR + r"/notes",
        "notes.md: Create new merge request note",
        required=frozenset({"body"}),
        body={"body": str, "created_at": str, "internal": bool, "merge_request_diff_head_sha": str},
    ),
    # https://docs.gitlab.com/api/notes/#modify-existing-merge-request-note
    Shape(
        "PUT",
        MR + r"/notes/\d+",
        "notes.md: Modify existing merge request note",
        required=frozenset({"body"}),
        body={"body": str},
    ),
    # https://docs.gitlab.com/api/commits/#set-the-pipeline-status-of-a-commit
    Shape(
        "POST",
        P + r"/statuses/[0-9a-f]{40}",
        "commits.md: Set the pipeline status of a commit",
        required=frozenset({"state"}),
        body={
            "state": frozenset({"pending", "running", "success", "failed", "canceled", "skipped"}),
            "ref": str,
            "name": str,
            "context": str,
            "target_url": str,
            "description": str,
            "coverage": (int, float),
            "pipeline_id": int,
        },
    ),
    # https://docs.gitlab.com/api/members/ (a member, including inherited and invited)
    Shape("GET", P + r"/members/all/\d+", "members.md: Get a member (inherited)"),
    Shape("GET", r"/groups/[^/]+/members/all/\d+", "members.md: Get a member (inherited)"),
    # https://docs.gitlab.com/api/members/#list-all-members-of-a-group-or-project-including-inherited-and-invited-members
    Shape(
        "GET",
        r"/groups/[^/]+/members/all",
        "members.md: List all members (inherited)",
        query=PAGINATION,
    ),
    # https://docs.gitlab.com/api/commits/#list-merge-requests-associated-with-a-commit
    Shape(
        "GET",
        P + r"/repository/commits/[0-9a-f]{40}/merge_requests",
        "commits.md: List merge requests associated with a commit",
        query=PAGINATION,
    ),
    # https://docs.gitlab.com/api/deployments/#list-project-deployments
    Shape(
        "GET",
        P + r"/deployments",
        "deployments.md: List project deployments",
        query=frozenset(
            {
                "updated_after",
                "updated_before",
                "finished_after",
                "finished_before",
                "environment",
                "status",
            }
        )
        | PAGINATION,
    ),
    # https://docs.gitlab.com/api/deployments/#get-a-specific-deployment
    Shape("GET", P + r"/deployments/\d+", "deployments.md: Get a specific deployment"),
    # https://docs.gitlab.com/api/deployments/#create-a-deployment (all five are required)
    Shape(
        "POST",
        P + r"/deployments",
        "deployments.md: Create a deployment",
        required=frozenset({"environment", "sha", "ref", "tag", "status"}),
        body={
            "environment": str,
            "sha": str,
            "ref": str,
            "tag": bool,
            "status": DEPLOYMENT_STATUSES,
        },
    ),
    # https://docs.gitlab.com/api/deployments/#update-a-deployment
    Shape(
        "PUT",
        P + r"/deployments/\d+",
        "deployments.md: Update a deployment",
        required=frozenset({"status"}),
        body={"status": DEPLOYMENT_STATUSES},
    ),
]


def check(method: str, path: str, query: dict[str, list[str]], body: Any) -> str:
    """The doc section this request follows; Invalid when it is not documented as sent."""
    for shape in SHAPES:
        if shape.method != method or not re.fullmatch(shape.path, path):
            continue
        unknown = set(query) - shape.query
        if unknown:
            raise Invalid(f"{shape.doc}: undocumented query parameters {sorted(unknown)}")
        if method in ("GET", "DELETE"):
            if body is not None:
                raise Invalid(f"{shape.doc}: unexpected body")
            return shape.doc
        if not isinstance(body, dict):
            raise Invalid(f"{shape.doc}: body must be a JSON object")
        missing = shape.required - set(body)
        if missing:
            raise Invalid(f"{shape.doc}: missing required attributes {sorted(missing)}")
        for key, value in body.items():
            rule = shape.body.get(key)
            if rule is None:
                raise Invalid(f"{shape.doc}: undocumented attribute {key!r}")
            if isinstance(rule, frozenset):
                if value not in rule:
                    raise Invalid(f"{shape.doc}: {key}={value!r} not one of {sorted(rule)}")
            elif not isinstance(value, rule) or isinstance(value, bool) and rule is not bool:
                raise Invalid(f"{shape.doc}: {key} has the wrong type")
        return shape.doc
    raise Invalid("not a documented endpoint of the shapes table")
