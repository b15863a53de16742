"""conftest conventions for both engines: rules to query, results to findings.

Both engines evaluate the same generated entry module (`package gitops_bot_entry`), which
gathers every `deny*` / `violation*` / `warn*` rule (and `exception`) of the resource
namespaces into one document, and `deny*` / `warn*` / `approvals` of `gitops.change`. Result
handling lives here once, so the two engines cannot drift apart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.decide import group_matches
from bot.markers import RECHECK
from bot.model import ApprovalRequirement, Finding, Manifest, ObjKey, Severity
from bot.policy import source
from bot.policy.policyset import PolicySet

FAILURE = re.compile(r"^(deny|violation)(_[a-zA-Z0-9]+)*$")
WARNING = re.compile(r"^warn(_[a-zA-Z0-9]+)*$")
CHANGE_PACKAGE = "gitops.change"
ENTRY_PACKAGE = "gitops_bot_entry"
IO_PACKAGE = "gitops_bot_io"
RESERVED_PACKAGES = (ENTRY_PACKAGE, IO_PACKAGE)
ANY_REVIEWER = "*"


@dataclass(frozen=True)
class ChangeDecision:
    """What the change policies decided: findings, and who must approve."""

    findings: tuple[Finding, ...] = ()
    approvals: tuple[ApprovalRequirement, ...] = ()


@dataclass(frozen=True)
class Plan:
    """The rules to evaluate: resource namespace -> rule names, and change rule names."""

    resource: tuple[tuple[str, tuple[str, ...]], ...]
    change: tuple[str, ...]


def exception_name(rule: str) -> str:
    """The name an `exception` rule uses for `rule` (conftest strips the severity prefix)."""
    for prefix in ("violation_", "deny_", "warn_"):
        rule = rule.removeprefix(prefix)
    return rule


def plan(policies: PolicySet) -> Plan:
    """Find the rules to query in each package of the set, as conftest does."""
    by_package: dict[str, set[str]] = {}
    for _path, src in policies.modules:
        pkg = source.package_name(src)
        if pkg is None:
            continue
        rules = {n for n, kind in source.rule_heads(src).items() if kind == "rule"}
        by_package.setdefault(pkg, set()).update(rules)
    wanted = (
        [p for p in by_package if p != CHANGE_PACKAGE]
        if "*" in policies.namespaces
        else [p for p in policies.namespaces if p in by_package]
    )
    resource = tuple(
        (ns, tuple(sorted(r for r in by_package[ns] if FAILURE.match(r) or WARNING.match(r))))
        for ns in sorted(wanted)
        if ns not in RESERVED_PACKAGES
    )
    change = tuple(
        sorted(
            r
            for r in by_package.get(CHANGE_PACKAGE, ())
            if FAILURE.match(r) or WARNING.match(r) or r == "approvals"
        )
    )
    return Plan(tuple((ns, rules) for ns, rules in resource if rules), change)


def _each(ref: str) -> str:
    # One line per comprehension: regopy 1.5.2 rejects some comprehensions split over lines.
    return f"[x | {ref}[x]]"


def entry_module(p: Plan) -> str:
    """Rego source of the entry module both engines query (valid as Rego v0 and v1)."""
    resource = ", ".join(
        f'{json.dumps(ns)}: {{"rules": {{'
        + ", ".join(f"{json.dumps(r)}: {_each(f'data.{ns}.{r}')}" for r in rules)
        + f'}}, "exceptions": [n | data.{ns}.exception[e]; n := e[_]]}}'
        for ns, rules in p.resource
    )
    change_rules = ", ".join(
        f"{json.dumps(r)}: {_each(f'data.{CHANGE_PACKAGE}.{r}')}" for r in p.change
    )
    return (
        f"package {ENTRY_PACKAGE}\n\nresource := {{{resource}}}\n\nchange := {{{change_rules}}}\n"
    )


def json_safe(value: Any) -> Any:
    """A JSON-only copy of a YAML value (dates and other scalars become strings)."""
    return json.loads(json.dumps(value, default=str))


def _message(value: Any) -> tuple[str, Mapping[str, Any]] | None:
    if isinstance(value, str):
        return value, {}
    if isinstance(value, Mapping) and isinstance(value.get("msg"), str):
        return value["msg"], value
    return None


def _with_details(msg: str, value: Mapping[str, Any]) -> str:
    details = value.get("details")
    if details:
        return f"{msg} (details: {json.dumps(details, sort_keys=True)})"
    return msg


def _owners(value: Mapping[str, Any]) -> tuple[str, ...]:
    """The groups a result object names as its rule's owners (`"owners": ["platform"]`):
    who may override the finding (bot.governance). Anything else names no owner."""
    owners = value.get("owners")
    if not isinstance(owners, list):
        return ()
    return tuple(sorted({o.strip() for o in owners if isinstance(o, str) and o.strip()}))


def _severity(rule: str) -> Severity:
    return Severity.ERROR if FAILURE.match(rule) else Severity.WARNING


def resource_findings_from(result: Any, manifest: Manifest) -> list[Finding]:
    """Findings for one object from the entry module's `resource` document."""
    if not isinstance(result, Mapping):
        return [engine_error(f"unexpected result {str(result)[:200]}", manifest=manifest)]
    found: list[Finding] = []

    def finding(
        severity: Severity, message: str, rule: str, owners: tuple[str, ...] = ()
    ) -> Finding:
        return Finding(
            severity,
            "policy",
            message,
            manifest.file,
            manifest.line,
            manifest.key,
            rule,
            owners=owners,
        )

    for ns, block in sorted(result.items()):
        excepted = {e for e in block.get("exceptions", []) if isinstance(e, str)}
        for rule, values in sorted(block.get("rules", {}).items()):
            ref = f"{ns}.{rule}"
            if exception_name(rule) in excepted and values:
                found.append(finding(Severity.INFO, f"{ref} skipped by a policy exception", ref))
                continue
            for value in sorted(values, key=lambda v: json.dumps(v, sort_keys=True)):
                parsed = _message(value)
                if parsed is None:
                    found.append(
                        engine_error(
                            f"{ref} returned {json.dumps(value)[:200]}; "
                            "expected a string or {msg, details}",
                            manifest=manifest,
                            rule=ref,
                        )
                    )
                    continue
                msg, obj = parsed
                found.append(finding(_severity(rule), _with_details(msg, obj), ref, _owners(obj)))
    return found


def _approval(value: Any) -> ApprovalRequirement | None:
    if not isinstance(value, Mapping):
        return None
    group, count, reason = value.get("group"), value.get("count", 1), value.get("reason", "")
    if (
        not isinstance(group, str)
        or not group
        or isinstance(count, bool)
        or not isinstance(count, int)
        or count < 1
        or not isinstance(reason, str)
    ):
        return None
    return ApprovalRequirement(group, count, reason)


def approvers(group: str, change_input: Mapping[str, Any]) -> tuple[str, ...]:
    """Users whose approval of the head SHA counts for `group` (`*` = any reviewer)."""
    users = {
        str(r.get("user"))
        for r in change_input.get("reviews", ())
        if isinstance(r, Mapping)
        and r.get("user")
        and (
            group == ANY_REVIEWER or any(group_matches(group, str(t)) for t in r.get("teams") or ())
        )
    }
    return tuple(sorted(users))


def change_decision_from(result: Any, change_input: Mapping[str, Any]) -> ChangeDecision:
    """Turn the entry module's `change` document into findings and approval requirements."""
    if not isinstance(result, Mapping):
        return ChangeDecision((engine_error(f"unexpected result {str(result)[:200]}"),))
    findings: list[Finding] = []
    required: set[ApprovalRequirement] = set()
    for rule, values in sorted(result.items()):
        ref = f"{CHANGE_PACKAGE}.{rule}"
        for value in sorted(values, key=lambda v: json.dumps(v, sort_keys=True)):
            if rule == "approvals":
                req = _approval(value)
                if req is None:
                    findings.append(
                        engine_error(
                            f"{ref} returned {json.dumps(value)[:200]}; expected "
                            '{"group": str, "count": int >= 1, "reason": str}',
                            rule=ref,
                        )
                    )
                else:
                    required.add(req)
                continue
            parsed = _message(value)
            if parsed is None:
                findings.append(engine_error(f"{ref} returned {json.dumps(value)[:200]}", rule=ref))
                continue
            msg, obj = parsed
            line = obj.get("line")
            findings.append(
                Finding(
                    _severity(rule),
                    "policy",
                    _with_details(msg, obj),
                    file=obj.get("file") if isinstance(obj.get("file"), str) else None,
                    line=line if isinstance(line, int) else None,
                    rule=ref,
                    object=_object_key(obj.get("object")),
                    owners=_owners(obj),
                )
            )
    approvals = tuple(
        ApprovalRequirement(r.group, r.count, r.reason, approvers(r.group, change_input))
        for r in sorted(required, key=lambda r: (r.group, r.count, r.reason))
    )
    return ChangeDecision(tuple(findings), approvals)


def _object_key(value: Any) -> ObjKey | None:
    """`{"group", "kind", "namespace", "name"}` in a change rule's result (as in
    `input.dangerous[].object`): the object the finding is about."""
    if not isinstance(value, Mapping):
        return None
    parts = [value.get(k) for k in ("group", "kind", "namespace", "name")]
    strings = [p for p in parts if isinstance(p, str)]
    if len(strings) != 4 or not strings[1] or not strings[3]:
        return None
    return ObjKey(*strings)


def engine_error(
    reason: str,
    *,
    policies: PolicySet | None = None,
    manifest: Manifest | None = None,
    rule: str | None = None,
) -> Finding:
    """A failing finding for an engine problem: the check fails, it never passes silently."""
    layer = f" in the {policies.name} policies @ {policies.short}" if policies else ""
    return Finding(
        Severity.ERROR,
        "policy",
        f"policy engine error{layer}: {reason}. Fix the policy (or the OPA server) "
        f"and push again, or comment `{RECHECK}`.",
        file=manifest.file if manifest else None,
        line=manifest.line if manifest else None,
        object=manifest.key if manifest else None,
        rule=rule,
    )


def security_errors(policies: PolicySet) -> list[str]:
    """Reasons the set must not be evaluated at all (forbidden built-ins, reserved packages)."""
    errors: list[str] = []
    for path, src in policies.modules:
        for name, line in source.forbidden_calls(src):
            errors.append(
                f"{path}:{line}: {name} is not allowed in policies "
                "(no network or environment access)"
            )
        pkg = source.package_name(src) or ""
        if pkg.split(".")[0] in RESERVED_PACKAGES:
            errors.append(f"{path}: package {pkg} is reserved for the bot")
    return errors


def sort_findings(findings: Sequence[Finding]) -> list[Finding]:
    """A stable order, so both engines and repeated runs print the same report."""
    return sorted(
        findings,
        key=lambda f: (
            f.file or "",
            f.line or 0,
            str(f.object or ""),
            f.rule or "",
            -f.severity,
            f.message,
        ),
    )
