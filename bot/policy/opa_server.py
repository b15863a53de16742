"""The OPA server engine: uploads each policy revision under its own prefix, then queries it.

Every `data` reference and package of a revision is moved under
`gitops_bot.r_<digest>` (policy API ids `gitops-bot/<digest>/<path>`), so two revisions
(base and head, server and repository) never mix in one OPA. The set's data travels as a
generated module in the same prefix, so no data API write can collide with a package.
The entry module is uploaded last and marks the revision complete. Modules are uploaded in
Rego v1 (OPA 1.x's default syntax): v0 rule heads are rewritten first (see regov1).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
from opa_client.opa import OpaClient

from bot.model import Finding, Manifest
from bot.policy import conventions as conv
from bot.policy import regov1, source
from bot.policy.conventions import ChangeDecision
from bot.policy.policyset import PolicySet

ROOT = "gitops_bot"
BATCH_PACKAGE = "gitops_bot_batch"
BATCH_SIZE = 100  # objects per data API request
# Every object of a request judged in one evaluation: one round trip per BATCH_SIZE objects.
_BATCH_MODULE = (
    f"package {BATCH_PACKAGE}\n\nresources := {{i: r | some i, o in input.objects; "
    f"r := data.{conv.ENTRY_PACKAGE}.resource with input as o}}\n"
)
log = logging.getLogger(__name__)
_IDENT_OK = str.isidentifier
_REVISION = re.compile(rf"gitops-bot/[0-9a-f]{{20}}/|{ROOT}\.r_[0-9a-f]{{20}}\.")


class OpaError(Exception):
    """The OPA server refused, failed or was unreachable."""


def _detail(error: dict[str, Any]) -> str:
    # OPA's error objects: {"code", "message", "location": {"file", "row", "col"}}; the
    # uploaded modules keep the repository file's lines, so the row points into it
    row = (error.get("location") or {}).get("row")
    return f"line {row}: {error.get('message', '')}" if row else str(error.get("message", ""))


def _reason(exc: BaseException) -> str:
    message = str(getattr(exc, "message", None) or exc or type(exc).__name__)
    errors = getattr(exc, "errors", None) or []
    response = getattr(exc, "response", None)
    if isinstance(exc, requests.HTTPError) and response is not None:
        try:  # OPA's error body says why: {"code", "message", "errors"}
            body = response.json()
            message = f"{response.status_code} {body['code']}: {body['message']}"
            errors = body.get("errors") or []
        except (ValueError, KeyError, TypeError):
            pass
    details = [_detail(e) for e in errors if isinstance(e, dict)]
    if details:
        message = f"{message}: {'; '.join(details)}"
    # policy ids and packages of a revision mean nothing to the policy's author
    return _REVISION.sub("", message)


def _describe(exc: BaseException) -> str:
    return f"OPA server: {_reason(exc)[:500]}"


class OpaServerEngine:
    """Evaluates policy sets on an OPA server through its REST policy and data APIs."""

    name = "opa"

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout: float = 10.0,
        client: OpaClient | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"OPA URL must be http(s)://host[:port], got {url!r}")
        self._client = client or OpaClient(
            host=parts.hostname,
            port=parts.port or (443 if parts.scheme == "https" else 8181),
            ssl=parts.scheme == "https",
            token=token,
            timeout=timeout,
            retries=1,
        )
        self._uploaded: set[str] = set()
        self._lock = threading.Lock()

    @staticmethod
    def prefix(policies: PolicySet) -> str:
        """The package prefix of one revision (and its namespaces) on the server."""
        key = f"{policies.revision}\0{','.join(policies.namespaces)}"
        return f"{ROOT}.r_{hashlib.sha256(key.encode()).hexdigest()[:20]}"

    def _modules(self, policies: PolicySet, plan: conv.Plan) -> list[tuple[str, str]]:
        prefix = self.prefix(policies)
        data = conv.json_safe(policies.data)
        bad = [k for k in data if not _IDENT_OK(k)]
        if bad:
            raise OpaError(f"data keys {bad} are not Rego identifiers")
        data_rules = "".join(f"{k} := {json.dumps(v)}\n" for k, v in sorted(data.items()))
        modules = [
            (p, source.rewrite(regov1.to_v1(s), data_prefix=prefix)) for p, s in policies.modules
        ]
        if data_rules:
            modules.append(("gitops_bot_data.rego", f"package {prefix}\n\n{data_rules}"))
        modules.append(("gitops_bot_batch.rego", source.rewrite(_BATCH_MODULE, data_prefix=prefix)))
        modules.append(
            ("gitops_bot_entry.rego", source.rewrite(conv.entry_module(plan), data_prefix=prefix))
        )
        return modules

    def _policy_id(self, policies: PolicySet, path: str) -> str:
        digest = self.prefix(policies).rpartition(".r_")[2]
        return f"gitops-bot/{digest}/{path}"

    def _ensure(self, policies: PolicySet, plan: conv.Plan) -> str:
        prefix = self.prefix(policies)
        if prefix in self._uploaded:
            return prefix
        with self._lock:
            modules = self._modules(policies, plan)
            pending = list(modules)
            errors: dict[str, str] = {}
            # Upload in any order and retry: a module calling a function of another
            # module is rejected until that module is there.
            while pending:
                progress, still = False, []
                for path, src in pending:
                    try:
                        # rego_compat off: opa-client's own line-based v0 upgrade would
                        # retry a refused module with other text (regov1 did it already)
                        self._client.update_policy_from_string(
                            src, self._policy_id(policies, path), rego_compat=False
                        )
                        progress = True
                    except requests.RequestException:
                        raise
                    except Exception as exc:  # noqa: BLE001 - opa-client raises plain types
                        errors[path] = _reason(exc)
                        still.append((path, src))
                pending = still
                if not progress:
                    break
            if pending:
                reasons = {errors.get(p, "rejected") for p, _ in pending}
                if len(pending) > 1 and len(reasons) == 1:  # e.g. refused credentials
                    raise OpaError(f"{reasons.pop()} (all {len(pending)} modules)")
                raise OpaError("; ".join(f"{p}: {errors.get(p, 'rejected')}" for p, _ in pending))
            self._uploaded.add(prefix)
        return prefix

    def _query(
        self,
        policies: PolicySet,
        plan: conv.Plan,
        rule: str,
        value: Any,
        package: str = conv.ENTRY_PACKAGE,
    ) -> Any:
        for _attempt in (1, 2):
            prefix = self._ensure(policies, plan)
            answer = self._client.query_rule(value, f"{prefix}.{package}", rule)
            if isinstance(answer, dict) and "result" in answer:
                return answer["result"]
            # Undefined: the server lost the revision (restart) -- upload again, once.
            self._uploaded.discard(prefix)
        raise OpaError(f"{rule} is undefined on the server after re-uploading the policies")

    def forget(self, policies: PolicySet) -> None:
        """Delete a revision's modules from the server (best effort).

        OPA refuses to delete a module others still call, so modules go in reverse upload
        order, and a refused one is tried again after the rest.
        """
        plan = conv.plan(policies)
        pending = [path for path, _ in reversed(self._modules(policies, plan))]
        while pending:
            still = []
            for path in pending:
                try:
                    self._client.delete_policy(self._policy_id(policies, path))
                except requests.RequestException as exc:
                    log.debug("could not delete %s: %s", path, exc)
                    return
                except Exception as exc:  # noqa: BLE001 - 404 (already gone) or refused
                    if getattr(exc, "expression", None) != "resource_not_found":  # its code
                        still.append(path)
                    log.debug("could not delete %s: %s", path, exc)
            if len(still) == len(pending):
                break
            pending = still
        self._uploaded.discard(self.prefix(policies))

    def resource_findings(
        self, policies: PolicySet, manifests: Sequence[Manifest]
    ) -> list[Finding]:
        """Evaluate resource rules on each object; an OPA problem is an ERROR finding."""
        if policies.empty or not manifests:
            return []
        problems = conv.security_errors(policies)
        if problems:
            return [conv.engine_error("; ".join(problems), policies=policies)]
        plan = conv.plan(policies)
        try:
            self._ensure(policies, plan)  # a broken module fails the check even without rules
        except Exception as exc:  # noqa: BLE001 - fail closed on anything
            return [conv.engine_error(_describe(exc), policies=policies)]
        if not plan.resource:
            return []
        found: list[Finding] = []
        for start in range(0, len(manifests), BATCH_SIZE):
            batch = manifests[start : start + BATCH_SIZE]
            objects = [conv.json_safe(m.body) for m in batch]
            try:
                values = self._query(
                    policies, plan, "resources", {"objects": objects}, BATCH_PACKAGE
                )
            except requests.HTTPError as exc:
                if len(batch) == 1 or exc.response is None or exc.response.status_code != 500:
                    return [conv.engine_error(_describe(exc), policies=policies)]
                # an evaluation error in some object: find which, one object at a time
                values = {str(i): self._one(policies, plan, m) for i, m in enumerate(batch)}
            except Exception as exc:  # noqa: BLE001 - fail closed on anything
                # One error for the set: an unreachable server would fail every object.
                return [conv.engine_error(_describe(exc), policies=policies)]
            for i, manifest in enumerate(batch):
                value = values.get(str(i)) if isinstance(values, dict) else None
                if isinstance(value, Finding):
                    found.append(value)
                    continue
                if value is None:
                    found.append(
                        conv.engine_error(
                            "the resource rules gave no result",
                            policies=policies,
                            manifest=manifest,
                        )
                    )
                    continue
                found.extend(conv.resource_findings_from(value, manifest))
        return conv.sort_findings(found)

    def _one(self, policies: PolicySet, plan: conv.Plan, manifest: Manifest) -> Any:
        """The `resource` document of one object, or the engine error that object causes."""
        try:
            return self._query(policies, plan, "resource", conv.json_safe(manifest.body))
        except Exception as exc:  # noqa: BLE001 - fail closed on anything
            return conv.engine_error(_describe(exc), policies=policies, manifest=manifest)

    def change_decision(
        self, policies: PolicySet, change_input: Mapping[str, Any]
    ) -> ChangeDecision:
        """Evaluate `gitops.change` on the whole change input."""
        if policies.empty:
            return ChangeDecision()
        problems = conv.security_errors(policies)
        if problems:
            return ChangeDecision((conv.engine_error("; ".join(problems), policies=policies),))
        plan = conv.plan(policies)
        try:
            self._ensure(policies, plan)
            if not plan.change:
                return ChangeDecision()
            value = self._query(policies, plan, "change", conv.json_safe(change_input))
        except Exception as exc:  # noqa: BLE001 - fail closed on anything
            return ChangeDecision((conv.engine_error(_describe(exc), policies=policies),))
        return conv.change_decision_from(value, change_input)
