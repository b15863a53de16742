"""Checks GitHub requests against GitHub's own OpenAPI description (trimmed copy, 2020-07-30).

What is checked, per request:
- the method + path is an operation of the description (or on the short EXTRA list below);
- path and query parameters have the declared types (openapi-core), and no query parameter
  is sent that the operation does not declare (stricter than openapi-core, which ignores them);
- the JSON body validates against the operation's requestBody schema (openapi-core), and has
  no top-level key the schema does not list (stricter than GitHub, which silently ignores
  unknown keys: a typo there would otherwise pass unnoticed).
Headers (Accept, API version) are not checked. Responses are not validated.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from openapi_core import OpenAPI
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.testing import MockRequest

from tests.forgeserver.core import Invalid

SPEC_FILE = (
    Path(__file__).parents[1]
    / "fixtures"
    / "github"
    / "rest-api"
    / "api.github.com.pr-bot-subset.openapi.json"
)
HOST = "https://api.github.com"

# Endpoints the adapter calls that the trimmed description does not contain, allowed one by
# one. Only their method, path shape and query parameter names are checked (no schema here).
EXTRA: list[tuple[str, str, frozenset[str], str]] = [
    # users/get-authenticated: the bot's identity in token mode.
    # https://docs.github.com/en/rest/users/users#get-the-authenticated-user
    ("GET", r"/user", frozenset(), "users/get-authenticated"),
    # apps/get-authenticated: the App's slug (bot identity `<slug>[bot]`), JWT auth.
    # https://docs.github.com/en/rest/apps/apps#get-the-authenticated-app
    ("GET", r"/app", frozenset(), "apps/get-authenticated"),
    # repos/get-collaborator-permission-level: write access of a commenter / approver.
    # https://docs.github.com/en/rest/collaborators/collaborators#get-repository-permissions-for-a-user
    (
        "GET",
        r"/repos/[^/]+/[^/]+/collaborators/[^/]+/permission",
        frozenset(),
        "repos/get-collaborator-permission-level",
    ),
    # repos/list-teams: teams with access to the repository.
    # https://docs.github.com/en/rest/repos/repos#list-repository-teams
    ("GET", r"/repos/[^/]+/[^/]+/teams", frozenset({"per_page", "page"}), "repos/list-teams"),
    # teams/list-members-legacy: PyGithub follows the team's `url`
    # (`/organizations/{org_id}/team/{team_id}`) + `/members`.
    # https://docs.github.com/en/rest/teams/members#list-team-members
    (
        "GET",
        r"/organizations/\d+/team/\d+/members",
        frozenset({"per_page", "page", "role"}),
        "teams/list-members-legacy",
    ),
    # repos/list-pull-requests-associated-with-commit: the merged pull request behind a commit
    # on the protected branch (deploy reporting). Not in the 2020 subset; items are
    # pull-request-simple objects (no `merged`, read `merged_at`).
    # https://docs.github.com/en/rest/commits/commits#list-pull-requests-associated-with-a-commit
    (
        "GET",
        r"/repos/[^/]+/[^/]+/commits/[0-9a-f]{40}/pulls",
        frozenset({"per_page", "page"}),
        "repos/list-pull-requests-associated-with-commit",
    ),
    # pulls/list: the open pull requests of a repository (the sweep that recovers missed
    # deliveries). In the 2020 description, not in the subset; items are pull-request-simple.
    # https://docs.github.com/en/rest/pulls/pulls#list-pull-requests
    (
        "GET",
        r"/repos/[^/]+/[^/]+/pulls",
        frozenset({"state", "head", "base", "sort", "direction", "per_page", "page"}),
        "pulls/list",
    ),
    # teams/get-membership-for-user-in-org: whether a user is an active member of a team
    # (authority of override and break-glass commands).
    # https://docs.github.com/en/rest/teams/members#get-team-membership-for-a-user
    (
        "GET",
        r"/orgs/[^/]+/teams/[^/]+/memberships/[^/]+",
        frozenset(),
        "teams/get-membership-for-user-in-org",
    ),
]


@functools.cache
def spec() -> dict[str, Any]:
    """The trimmed OpenAPI description as a dict (loaded once)."""
    found: dict[str, Any] = json.loads(SPEC_FILE.read_text())
    return found


@functools.cache
def _openapi() -> OpenAPI:
    return OpenAPI.from_dict(spec())


def example(name: str) -> Any:
    """A deep copy of `components/examples/<name>/value`."""
    return json.loads(json.dumps(spec()["components"]["examples"][name]["value"]))


def _resolve(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = spec()
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


@functools.cache
def _operations() -> list[tuple[re.Pattern[str], str, dict[str, Any]]]:
    ops = []
    for template, item in spec()["paths"].items():
        regex = "".join(
            f"(?P<{part[1:-1]}>[^/]+?)" if part.startswith("{") else re.escape(part)
            for part in re.split(r"(\{\w+\})", template)
        )
        for method, op in item.items():
            if method in ("get", "post", "patch", "put", "delete"):
                ops.append((re.compile(regex + "$"), method.upper(), op))
    return ops


def operation(method: str, path: str) -> dict[str, Any] | None:
    """The OpenAPI operation object for `method path`, or None."""
    for regex, op_method, op in _operations():
        if op_method == method and regex.match(path):
            return op
    return None


def check(
    method: str,
    path: str,
    query: dict[str, list[str]],
    body: Any,
    raw: bytes,
    headers: dict[str, str],
) -> str:
    """The operationId this request matches; Invalid when the description does not allow it."""
    op = operation(method, path)
    if op is None:
        for extra_method, regex, allowed, op_id in EXTRA:
            if extra_method == method and re.fullmatch(regex, path):
                unknown = set(query) - allowed
                if unknown:
                    raise Invalid(f"{op_id}: unknown query parameters {sorted(unknown)}")
                if raw:
                    raise Invalid(f"{op_id}: unexpected request body")
                return op_id
        raise Invalid("not an operation of the OpenAPI description (nor on the EXTRA list)")
    declared = {p["name"] for p in map(_resolve, op.get("parameters", [])) if p["in"] == "query"}
    unknown = set(query) - declared
    if unknown:
        raise Invalid(f"{op['operationId']}: undeclared query parameters {sorted(unknown)}")
    content_type = next(
        (v for k, v in headers.items() if k.lower() == "content-type"), "application/json"
    )
    request = MockRequest(
        HOST,
        method.lower(),
        path,
        args=query,
        data=raw or None,
        content_type=content_type.split(";")[0],
    )
    try:
        _openapi().validate_request(request)
    except (PathNotFound, OperationNotFound) as exc:  # pragma: no cover - found above
        raise Invalid(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - openapi-core raises many kinds; report them
        cause = exc.__cause__ or exc.__context__
        detail = getattr(cause, "schema_errors", None) or cause or ""
        raise Invalid(f"{op['operationId']}: {type(exc).__name__}: {exc} {detail}") from None
    schema = _resolve(
        op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    )
    if isinstance(body, dict) and isinstance(schema, dict) and "properties" in schema:
        extra_keys = set(body) - set(schema["properties"])
        if extra_keys:
            raise Invalid(f"{op['operationId']}: body keys not in the schema {sorted(extra_keys)}")
    if raw and not op.get("requestBody"):
        raise Invalid(f"{op['operationId']}: takes no request body")
    return str(op["operationId"])
