"""`gitops-bot policy test`: runs every `test_*` rule of a policy folder, like `opa test`.

Tests are written as for OPA (`deny["msg"] with input as {...}`). The embedded engine routes
`input` through a rule, so these run on regopy even though regopy itself cannot compile
`with input as` next to helper rules. regopy has no coverage API, so there is no coverage.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from bot.policy import conventions as conv
from bot.policy import source
from bot.policy.policyset import load_policy_set
from bot.policy.rego import IsolatedProgram, RegoFailure, prepare_modules

PASS, FAIL, ERROR, SKIP = "pass", "fail", "error", "skip"


@dataclass(frozen=True)
class TestResult:
    """The outcome of one test rule."""

    package: str
    rule: str
    file: str
    line: int
    outcome: str
    seconds: float = 0.0
    message: str = ""

    @property
    def name(self) -> str:
        return f"data.{self.package}.{self.rule}"


@dataclass(frozen=True)
class TestReport:
    """All test results of a folder, or the error that stopped them from running."""

    results: tuple[TestResult, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and bool(self.results)
            and all(r.outcome in (PASS, SKIP) for r in self.results)
        )

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)


def _discover(modules: list[tuple[str, str]]) -> list[tuple[str, str, str, int]]:
    found: list[tuple[str, str, str, int]] = []
    for path, src in modules:
        pkg = source.package_name(src)
        if pkg is None:
            continue
        lines = src.splitlines()
        for rule in source.rule_heads(src):
            if rule.startswith(("test_", "todo_test_")):
                line = next((i + 1 for i, text in enumerate(lines) if text.startswith(rule)), 1)
                found.append((pkg, rule, path, line))
    return found


def run_policy_tests(directory: Path) -> TestReport:
    """Compile the folder (policies, tests and data) and evaluate each test rule.

    Everything runs in the sandboxed policy process (`isolated.py`): a test folder is often
    a pull request's, run by CI next to its tokens. Forbidden built-ins are refused by the
    text scan first (the compiled-plan check costs seconds for a whole test suite).
    """
    policies = load_policy_set(directory, "tests", include_tests=True)
    if policies.empty:
        return TestReport(error=f"no .rego files under {directory}")
    problems = conv.security_errors(policies)
    if problems:
        return TestReport(error="; ".join(problems))
    tests = _discover(list(policies.modules))
    if not tests:
        return TestReport(error=f"no test_* rules under {directory}")
    runnable = [t for t in tests if t[1].startswith("test_")]
    entrypoints = [f"{pkg.replace('.', '/')}/{rule}" for pkg, rule, _, _ in runnable]
    modules = prepare_modules(policies.modules)
    data = conv.json_safe(policies.data)
    try:
        program = IsolatedProgram(modules, data, entrypoints, plan_check=False)
    except RegoFailure as exc:
        return TestReport(error=str(exc))
    try:
        return TestReport(tuple(_run(program, tests)))
    finally:
        program.close()


def _run(program: IsolatedProgram, tests: list[tuple[str, str, str, int]]) -> list[TestResult]:
    results: list[TestResult] = []
    for pkg, rule, path, line in tests:
        if rule.startswith("todo_"):
            results.append(TestResult(pkg, rule, path, line, SKIP))
            continue
        started = time.perf_counter()
        try:
            defined, value = program.evaluate(f"{pkg.replace('.', '/')}/{rule}", {})
            outcome = PASS if defined and value is True else FAIL
            message = (
                ""
                if outcome == PASS
                else ("undefined" if not defined else f"returned {json.dumps(value)[:200]}")
            )
        except RegoFailure as exc:
            outcome, message = ERROR, str(exc)
        results.append(
            TestResult(pkg, rule, path, line, outcome, time.perf_counter() - started, message)
        )
    return results


def _snippet(directory: Path, result: TestResult, limit: int = 12) -> list[str]:
    try:
        lines = (directory / result.file).read_text().splitlines()
    except OSError:
        return []
    body = lines[result.line - 1 : result.line - 1 + limit]
    end = next((i for i, text in enumerate(body) if text.startswith("}")), len(body) - 1)
    return [f"    {text}" for text in body[: end + 1]]


def format_text(report: TestReport, directory: Path, *, verbose: bool = False) -> str:
    """Human output in the spirit of `opa test`: failures with their source, a summary."""
    if report.error:
        return f"ERROR: {report.error}\n"
    out: list[str] = []
    for result in report.results:
        if result.outcome in (FAIL, ERROR) or verbose:
            where = f"{result.file}:{result.line}"
            detail = f" ({result.message})" if result.message else ""
            out.append(
                f"{result.name}: {result.outcome.upper()} "
                f"({result.seconds * 1000:.1f}ms) {where}{detail}"
            )
            if result.outcome in (FAIL, ERROR):
                out.extend(_snippet(directory, result))
    total = len(report.results)
    out.append("-" * 80)
    for outcome in (PASS, FAIL, ERROR, SKIP):
        if report.count(outcome):
            out.append(f"{outcome.upper()}: {report.count(outcome)}/{total}")
    return "\n".join(out) + "\n"


def format_json(report: TestReport) -> str:
    """Machine output: one object per test plus the error, if any."""
    return (
        json.dumps(
            {
                "error": report.error,
                "ok": report.ok,
                "results": [
                    {
                        "name": r.name,
                        "file": r.file,
                        "line": r.line,
                        "outcome": r.outcome,
                        "seconds": round(r.seconds, 6),
                        "message": r.message,
                    }
                    for r in report.results
                ],
            },
            indent=2,
        )
        + "\n"
    )
