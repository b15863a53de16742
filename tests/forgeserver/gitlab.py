"""GitLab test server: the REST v4 endpoints the adapter uses, state in memory, every request
checked against the documented shapes in gitlab_shapes (see its docstring for the limits).

Responses are GitLab's documented examples (tests/fixtures/gitlab/rest-api/examples) where
the docs give one, adapted (ids, SHAs, names); objects the fixtures lack (diffs, project,
member, user) are built from the attribute lists on the same doc pages, noted at each.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from tests.forgeserver import gitlab_shapes
from tests.forgeserver.core import Call, ForgeServer, Reply
from tests.forgeserver.gitlab_deploy import DeploymentsMixin

EXAMPLES = Path(__file__).parents[1] / "fixtures" / "gitlab" / "rest-api" / "examples"
UNAUTHORIZED = {"message": "401 Unauthorized"}
NOT_FOUND = {"message": "404 Not found"}


def example(name: str) -> Any:
    """A fresh copy of a documented response example, by file path under examples/."""
    return json.loads((EXAMPLES / name).read_text())


class GitLabServer(DeploymentsMixin, ForgeServer):
    """In-memory GitLab. Configure with add_project/add_mr/approve/add_note/...; read state."""

    prefix = "/api/v4"

    def __init__(self) -> None:
        super().__init__()
        self.tokens: dict[str, str] = {}  # PRIVATE-TOKEN -> username
        self.users: dict[str, int] = {}  # username -> id
        self.projects: dict[str, dict[str, Any]] = {}  # path_with_namespace -> project
        self.mrs: dict[tuple[str, int], dict[str, Any]] = {}
        self.diffs: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self.approved: dict[tuple[str, int], list[str]] = {}
        self.notes: dict[int, dict[str, Any]] = {}
        self.note_on: dict[int, tuple[str, int]] = {}
        self.statuses: list[dict[str, Any]] = []  # {"repo", "sha", **request body}
        self.access: dict[tuple[str, str], int] = {}  # (project or group path, user) -> level
        self._ids = itertools.count(2000)
        P, MR = "/projects/{pid}", "/projects/{pid}/merge_requests/{iid}"
        for method, pattern, handler in [
            ("GET", "/user", self._me),
            ("GET", "/users", self._find_users),
            ("GET", P, self._project),
            ("GET", MR, self._mr),
            ("GET", MR + "/diffs", self._diffs),
            ("GET", MR + "/approvals", self._approvals),
            ("GET", MR + "/notes", self._notes),
            ("POST", MR + "/notes", self._create_note),
            ("PUT", MR + "/notes/{nid}", self._edit_note),
            ("POST", P + "/statuses/{sha}", self._status),
            ("GET", P + "/members/all/{uid}", self._project_member),
            ("GET", "/groups/{gid}/members/all/{uid}", self._group_member),
            ("GET", "/groups/{gid}/members/all", self._group_members),
            ("GET", P + "/merge_requests", self._list_mrs),
        ]:
            self.route(method, pattern, handler)
        self.install_deployments()

    def check(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: Any,
        raw: bytes,
        headers: dict[str, str],
    ) -> None:
        gitlab_shapes.check(method, path, query, body)

    def authenticate(self, call: Call, path: str) -> Reply | None:
        # https://docs.gitlab.com/api/rest/authentication/ (PRIVATE-TOKEN header)
        token = call.headers.get("PRIVATE-TOKEN") or call.headers.get("Private-Token") or ""
        if token not in self.tokens:
            return Reply(401, UNAUTHORIZED)
        call.user = self.tokens[token]
        return None

    # -- helpers for tests ------------------------------------------------------------------
    def user(self, username: str) -> dict[str, Any]:
        """A user object shaped like the `author` of the documented status example."""
        uid = self.users.setdefault(username, next(self._ids))
        author = example("commit-statuses/post-projects-id-statuses-sha.response.json")["author"]
        author.update(
            id=uid,
            username=username,
            name=username.title(),
            web_url=f"https://gitlab.example.com/{username}",
        )
        return dict(author)

    def add_project(
        self, path: str, *, group_id: int | None = None, shared_with: dict[str, int] | None = None
    ) -> dict[str, Any]:
        """A project; `group_id` makes its namespace a group (projects.md: namespace, kind)."""
        pid = next(self._ids)
        namespace = path.rsplit("/", 1)[0]
        project = {
            "id": pid,
            "path_with_namespace": path,
            "name": path.rsplit("/", 1)[1],
            "default_branch": "main",
            "namespace": {
                "id": group_id or pid,
                "full_path": namespace,
                "kind": "group" if group_id else "user",
            },
            "shared_with_groups": [
                {"group_id": gid, "group_full_path": gpath}
                for gpath, gid in (shared_with or {}).items()
            ],
        }
        self.projects[path] = project
        return project

    def add_mr(
        self,
        path: str,
        iid: int,
        *,
        sha: str,
        base_sha: str | None,
        files: list[str] | None = None,
        renamed: dict[str, str] | None = None,
        author: str = "janedoe",
        fork: bool = False,
        draft: bool = False,
        labels: tuple[str, ...] = (),
        state: str = "opened",
    ) -> dict[str, Any]:
        """A merge request; `base_sha=None` leaves diff_refs unset (still being computed)."""
        project = self.projects[path]
        mr = example("commits/get-projects-id-repository-commits-sha-merge_requests.response.json")[
            0
        ]
        mr.update(
            id=next(self._ids),
            iid=iid,
            project_id=project["id"],
            sha=sha,
            state=state,
            author=self.user(author),
            draft=draft,
            labels=list(labels),
            title=f"Change {iid}",
            target_project_id=project["id"],
            source_project_id=project["id"] + (1 if fork else 0),
            web_url=f"https://gitlab.example.com/{path}/-/merge_requests/{iid}",
        )
        # diff_refs is not in the fixture example; merge_requests.md "Get single MR" lists it.
        mr["diff_refs"] = (
            {"base_sha": base_sha, "head_sha": sha, "start_sha": base_sha} if base_sha else None
        )
        self.mrs[(path, iid)] = mr
        # Diff objects per merge_requests.md "List merge request diffs" (no fixture example).
        entries = [
            {
                "old_path": f,
                "new_path": f,
                "a_mode": "100644",
                "b_mode": "100644",
                "diff": "",
                "new_file": False,
                "renamed_file": False,
                "deleted_file": False,
            }
            for f in files or []
        ]
        entries += [
            {
                "old_path": old,
                "new_path": new,
                "a_mode": "100644",
                "b_mode": "100644",
                "diff": "",
                "new_file": False,
                "renamed_file": True,
                "deleted_file": False,
            }
            for old, new in (renamed or {}).items()
        ]
        self.diffs[(path, iid)] = entries
        self.approved.setdefault((path, iid), [])
        return dict(mr)

    def add_note(
        self, path: str, iid: int, author: str, body: str, system: bool = False
    ) -> dict[str, Any]:
        nid = next(self._ids)
        note = example("notes/get-projects-id-merge_requests-iid-notes-note_id.response.json")
        note.update(
            id=nid,
            body=body,
            author=self.user(author),
            system=system,
            noteable_iid=iid,
            project_id=self.projects[path]["id"],
        )
        self.notes[nid] = note
        self.note_on[nid] = (path, iid)
        return dict(note)

    def mr_notes(self, path: str, iid: int) -> list[dict[str, Any]]:
        return [n for nid, n in self.notes.items() if self.note_on[nid] == (path, iid)]

    # -- handlers ---------------------------------------------------------------------------
    def _path_of(self, pid: str) -> str | None:
        ident = unquote(pid)
        if ident in self.projects:
            return ident
        return next((k for k, v in self.projects.items() if str(v["id"]) == ident), None)

    def _mr_key(self, call: Call) -> tuple[str, int] | None:
        path = self._path_of(call.params["pid"])
        key = (path or "", int(call.params["iid"]))
        return key if key in self.mrs else None

    def _me(self, call: Call) -> Reply:
        return Reply(200, self.user(call.user or ""))

    def _find_users(self, call: Call) -> Reply:
        name = call.arg("username")
        return Reply(200, [self.user(name)] if name in self.users else [])

    def _project(self, call: Call) -> Reply:
        path = self._path_of(call.params["pid"])
        return Reply(200, self.projects[path]) if path else Reply(404, NOT_FOUND)

    def _mr(self, call: Call) -> Reply:
        key = self._mr_key(call)
        return Reply(200, self.mrs[key]) if key else Reply(404, NOT_FOUND)

    def _diffs(self, call: Call) -> Reply:
        key = self._mr_key(call)
        if not key:
            return Reply(404, NOT_FOUND)
        return self.paginate(
            call, f"/projects/{call.params['pid']}/merge_requests/{key[1]}/diffs", self.diffs[key]
        )

    def _approvals(self, call: Call) -> Reply:
        key = self._mr_key(call)
        if not key:
            return Reply(404, NOT_FOUND)
        body = example(
            "merge-request-approvals/get-projects-id-merge_requests-iid-approvals.response.json"
        )
        mr = self.mrs[key]
        body.update(
            id=mr["id"],
            iid=mr["iid"],
            project_id=mr["project_id"],
            approved_by=[{"user": self.user(u)} for u in self.approved[key]],
            approvals_left=max(0, 2 - len(self.approved[key])),
        )
        return Reply(200, body)

    def _notes(self, call: Call) -> Reply:
        key = self._mr_key(call)
        if not key:
            return Reply(404, NOT_FOUND)
        return self.paginate(
            call,
            f"/projects/{call.params['pid']}/merge_requests/{key[1]}/notes",
            self.mr_notes(*key),
        )

    def _create_note(self, call: Call) -> Reply:
        key = self._mr_key(call)
        if not key:
            return Reply(404, NOT_FOUND)
        return Reply(201, self.add_note(key[0], key[1], call.user or "", call.body["body"]))

    def _edit_note(self, call: Call) -> Reply:
        note = self.notes.get(int(call.params["nid"]))
        if note is None:
            return Reply(404, NOT_FOUND)
        # GitLab only lets a note's author edit its body: answer 403 like it does.
        if note["author"]["username"] != call.user:
            return Reply(403, {"message": "403 Forbidden"})
        note["body"] = call.body["body"]
        return Reply(200, note)

    def _status(self, call: Call) -> Reply:
        path = self._path_of(call.params["pid"])
        if not path:
            return Reply(404, NOT_FOUND)
        name = call.body.get("name") or call.body.get("context") or "default"
        last = next(
            (
                s
                for s in reversed(self.statuses)
                if (s["repo"], s["sha"], s.get("name")) == (path, call.params["sha"], name)
            ),
            None,
        )
        if last and last["state"] == call.body["state"]:
            # GitLab refuses a transition to the state a status already has.
            return Reply(
                400,
                {"message": f"Cannot transition status via :{last['state']} from :{last['state']}"},
            )
        self.statuses.append({"repo": path, "sha": call.params["sha"], **call.body})
        reply = example("commit-statuses/post-projects-id-statuses-sha.response.json")
        reply.update(
            id=next(self._ids),
            sha=call.params["sha"],
            name=name,
            status=call.body["state"],
            author=self.user(call.user or ""),
            description=call.body.get("description"),
            target_url=call.body.get("target_url"),
        )
        return Reply(201, reply)

    def _member(self, where: str, uid: str, also: tuple[str, ...] = ()) -> Reply:
        user = next((u for u, i in self.users.items() if str(i) == uid), None)
        levels = [
            self.access[(w, user or "")] for w in (where, *also) if (w, user or "") in self.access
        ]
        level = max(levels, default=None)
        if level is None:
            return Reply(404, {"message": "404 Not found"})
        # members.md: id, username, name, state, access_level, ...
        return Reply(200, {**self.user(user or ""), "access_level": level})

    def _project_member(self, call: Call) -> Reply:
        # "members/all" includes members inherited from the namespace group, its ancestor
        # groups, and groups the project is shared with (members.md), at the highest level.
        path = self._path_of(call.params["pid"]) or ""
        project = self.projects.get(path, {"namespace": {}, "shared_with_groups": []})
        groups = tuple(g["group_full_path"] for g in project["shared_with_groups"])
        if project["namespace"].get("kind") == "group":
            parts = project["namespace"]["full_path"].split("/")
            groups += tuple("/".join(parts[:n]) for n in range(1, len(parts) + 1))
        return self._member(path, call.params["uid"], groups)

    def _group_members(self, call: Call) -> Reply:
        # members.md: every member of the group and its ancestors, at the highest level
        path = self._group_path(unquote(call.params["gid"]))
        parts = path.split("/")
        chain = {"/".join(parts[:n]) for n in range(1, len(parts) + 1)} if path else set()
        levels: dict[str, int] = {}
        for (where, user), level in self.access.items():
            if where in chain:
                levels[user] = max(level, levels.get(user, 0))
        members = [{**self.user(u), "access_level": lvl} for u, lvl in sorted(levels.items())]
        return self.paginate(call, f"/groups/{call.params['gid']}/members/all", members)

    def _group_path(self, gid: str) -> str:
        group = next(
            (
                g["group_full_path"]
                for p in self.projects.values()
                for g in p["shared_with_groups"]
                if str(g["group_id"]) == gid
            ),
            None,
        )
        return group or next(
            (
                p["namespace"]["full_path"]
                for p in self.projects.values()
                if str(p["namespace"]["id"]) == gid and p["namespace"]["kind"] == "group"
            ),
            "",
        )

    def _list_mrs(self, call: Call) -> Reply:
        # merge_requests.md "List project merge requests": no diff_refs in list items.
        path = self._path_of(call.params["pid"])
        if not path:
            return Reply(404, NOT_FOUND)
        state = call.arg("state", "all")
        found = [
            {k: v for k, v in mr.items() if k != "diff_refs"}
            for (p, _), mr in sorted(self.mrs.items())
            if p == path and state in ("all", mr["state"])
        ]
        return self.paginate(call, f"/projects/{call.params['pid']}/merge_requests", found)

    def _group_member(self, call: Call) -> Reply:
        gid = unquote(call.params["gid"])
        if "/" in gid or not gid.isdigit():
            # The id may be the group's URL-encoded full path (rest/#namespaced-paths);
            # members of ancestor groups are inherited members ("members/all").
            parts = gid.split("/")
            return self._member(
                gid, call.params["uid"], tuple("/".join(parts[:n]) for n in range(1, len(parts)))
            )
        group = next(
            (
                g["group_full_path"]
                for p in self.projects.values()
                for g in p["shared_with_groups"]
                if str(g["group_id"]) == gid
            ),
            None,
        )
        group = group or next(
            (
                p["namespace"]["full_path"]
                for p in self.projects.values()
                if str(p["namespace"]["id"]) == gid and p["namespace"]["kind"] == "group"
            ),
            None,
        )
        return self._member(group or "", call.params["uid"])
