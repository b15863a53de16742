"""The embedded policy engine (default): regopy in-process, one compiled bundle per revision."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from bot.model import Finding, Manifest
from bot.policy import conventions as conv
from bot.policy.conventions import ChangeDecision
from bot.policy.capabilities import refused
from bot.policy.policyset import PolicySet
from bot.policy.rego import (
    ForbiddenBuiltins,
    IsolatedProgram,
    Program,
    RegoFailure,
    prepare_modules,
    probe,
)

RESOURCE = f"{conv.ENTRY_PACKAGE}/resource"
CHANGE = f"{conv.ENTRY_PACKAGE}/change"

MEMO_SIZE = 20_000  # answers kept per compiled set


class _Compiled:
    def __init__(
        self, plan: conv.Plan, program: Program | IsolatedProgram | None, error: str | None
    ) -> None:
        self.plan, self.program, self.error = plan, program, error
        # Answers by input digest: the same object rendered by several targets (and on
        # both sides of a change) is evaluated once. Sound because every built-in whose
        # result could change between two evaluations is refused (capabilities.py).
        self._memo: OrderedDict[bytes, tuple[bool, Any]] = OrderedDict()
        self._memo_lock = threading.Lock()

    def evaluate(self, entrypoint: str, value: Any) -> tuple[bool, Any]:
        """(defined, value) for a JSON-safe input, handed to regopy as one JSON document."""
        assert self.program is not None
        try:
            document = json.dumps(
                value, separators=(",", ":"), default=str, sort_keys=True, allow_nan=False
            ).encode()
        except ValueError:  # NaN or infinity: not JSON, so value by value
            return self.program.evaluate(entrypoint, conv.json_safe(value))
        key = hashlib.blake2b(entrypoint.encode() + b"\0" + document, digest_size=20).digest()
        with self._memo_lock:
            hit = self._memo.get(key)
            if hit is not None:
                self._memo.move_to_end(key)
                return hit
        answer = self.program.evaluate_json(entrypoint, document)
        with self._memo_lock:
            self._memo[key] = answer
            if len(self._memo) > MEMO_SIZE:
                self._memo.popitem(last=False)
        return answer

    def close(self) -> None:
        if self.program is not None:
            self.program.close()


class EmbeddedEngine:
    """Evaluates policy sets with regopy; bundles are built once per (revision, namespaces).

    In-process (trusted sets: the server's and the protected branch's): with `probe` (the
    default) each new revision is compiled once in the sandboxed child first, because regopy
    aborts on some inputs. With `isolated=True` (sets from a pull request) the set is
    compiled and evaluated only in a sandboxed child with an empty environment and no
    network. Either way a set that calls a forbidden built-in is never evaluated.
    """

    name = "embedded"

    def __init__(self, *, probe: bool = True, cache_size: int = 16, isolated: bool = False) -> None:
        self._probe = probe
        self._isolated = isolated
        self._cache: OrderedDict[tuple[str, tuple[str, ...]], _Compiled] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def _compile(self, policies: PolicySet) -> _Compiled:
        plan = conv.plan(policies)
        problems = conv.security_errors(policies)
        if problems:
            return _Compiled(plan, None, "; ".join(problems))
        modules = [
            *prepare_modules(policies.modules),
            ("gitops_bot_entry.rego", conv.entry_module(plan)),
        ]
        data = conv.json_safe(policies.data)
        try:
            if self._isolated:
                return _Compiled(plan, IsolatedProgram(modules, data, (RESOURCE, CHANGE)), None)
            if self._probe:
                reason = probe(modules, data, (RESOURCE, CHANGE))
                if reason:
                    return _Compiled(plan, None, reason)
            program = Program(modules, data, (RESOURCE, CHANGE))
            bad = refused(program.builtin_calls())
            if bad:
                raise ForbiddenBuiltins(bad)
            return _Compiled(plan, program, None)
        except RegoFailure as exc:
            return _Compiled(plan, None, str(exc))

    def compiled(self, policies: PolicySet) -> _Compiled:
        """The compiled form of a set (cached); `.error` says why it cannot be used."""
        key = (policies.revision, policies.namespaces)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        built = self._compile(policies)
        with self._lock:
            self._cache[key] = built
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)[1].close()
        return built

    def close(self) -> None:
        """Release every compiled set (sandboxed children are stopped)."""
        with self._lock:
            while self._cache:
                self._cache.popitem(last=False)[1].close()

    def prepare(self, policies: PolicySet) -> str | None:
        """Compile ahead of time; the reason the set is unusable, or None."""
        return None if policies.empty else self.compiled(policies).error

    def resource_findings(
        self, policies: PolicySet, manifests: Sequence[Manifest]
    ) -> list[Finding]:
        """Evaluate resource rules on each object; engine problems become ERROR findings."""
        if policies.empty or not manifests:
            return []
        compiled = self.compiled(policies)
        if compiled.error or compiled.program is None:
            return [conv.engine_error(compiled.error or "not compiled", policies=policies)]
        if not compiled.plan.resource:
            return []
        found: list[Finding] = []
        for manifest in manifests:
            try:
                defined, value = compiled.evaluate(RESOURCE, manifest.body)
            except RegoFailure as exc:
                found.append(conv.engine_error(str(exc), policies=policies, manifest=manifest))
                continue
            if not defined:
                found.append(
                    conv.engine_error(
                        "the resource rules gave no result", policies=policies, manifest=manifest
                    )
                )
                continue
            found.extend(conv.resource_findings_from(value, manifest))
        return conv.sort_findings(found)

    def change_decision(
        self, policies: PolicySet, change_input: Mapping[str, Any]
    ) -> ChangeDecision:
        """Evaluate `gitops.change` on the whole change input."""
        if policies.empty:
            return ChangeDecision()
        compiled = self.compiled(policies)
        if compiled.error or compiled.program is None:
            return ChangeDecision(
                (conv.engine_error(compiled.error or "not compiled", policies=policies),)
            )
        if not compiled.plan.change:
            return ChangeDecision()
        try:
            defined, value = compiled.evaluate(CHANGE, change_input)
        except RegoFailure as exc:
            return ChangeDecision((conv.engine_error(str(exc), policies=policies),))
        if not defined:
            return ChangeDecision(
                (conv.engine_error("the change rules gave no result", policies=policies),)
            )
        return conv.change_decision_from(value, change_input)
