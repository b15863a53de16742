"""Runs a composite GitHub Action's steps the way a runner does, for the tests.

What GitHub documents and this reproduces: `${{ }}` expressions over the `inputs`, `github`
and `steps` contexts (literals, `==`, `!=`, `&&`, `||`, `!`, `always()`, `success()`,
`failure()`), input defaults, `if:` (default `success()`), `shell: bash` run as
`bash --noprofile --norc -eo pipefail {0}`, step `env`, and the GITHUB_OUTPUT / GITHUB_PATH /
GITHUB_STEP_SUMMARY files (`name=value` and `name<<DELIMITER` forms).
https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-syntax
https://docs.github.com/en/actions/reference/workflows-and-actions/expressions
`uses:` steps are not run: they are recorded with their evaluated `with:`.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}", re.S)
TOKEN = re.compile(
    r"\s*(==|!=|&&|\|\||!|\(|\)|'(?:[^']|'')*'|[A-Za-z_][\w.-]*\(\)|"
    r"[A-Za-z_][\w.-]*|\d+)"
)


@dataclass
class StepRun:
    """What happened to one step."""

    name: str
    ran: bool
    outcome: str  # success | failure | skipped
    exit_code: int | None = None
    output: str = ""
    uses: str | None = None
    with_: dict[str, str] = field(default_factory=dict)


class Runner:
    """One run of `action.yml` in `workspace` with `inputs` and a `github` context."""

    def __init__(
        self,
        action_dir: Path,
        workspace: Path,
        temp: Path,
        github: dict[str, Any],
        inputs: dict[str, str],
        path: str,
    ) -> None:
        self.action = yaml.safe_load((action_dir / "action.yml").read_text())
        self.action_dir, self.workspace, self.temp = action_dir, workspace, temp
        self.github, self.path = github, path
        self.steps: dict[str, dict[str, Any]] = {}
        self.status = "success"
        self.inputs: dict[str, str] = {}
        for name, spec in self.action.get("inputs", {}).items():
            default = str(spec.get("default", ""))
            self.inputs[name] = inputs.get(name, self.render(default))
        self.files = {
            name: temp / name.lower()
            for name in ("GITHUB_OUTPUT", "GITHUB_PATH", "GITHUB_STEP_SUMMARY", "GITHUB_ENV")
        }
        for f in self.files.values():
            f.write_text("")
        self.extra_path: list[str] = []

    # -- expressions ------------------------------------------------------------------------
    def lookup(self, name: str) -> Any:
        parts = name.split(".")
        root = {"inputs": self.inputs, "github": self.github, "steps": self.steps}.get(parts[0])
        if root is None:
            raise ValueError(f"unknown context {parts[0]!r}")
        value: Any = root
        for part in parts[1:]:
            value = value.get(part, "") if isinstance(value, dict) else ""
        return value

    def evaluate(self, expr: str) -> Any:
        tokens = [t for t in TOKEN.findall(expr)]
        if "".join(tokens).replace(" ", "") != expr.replace(" ", ""):
            raise ValueError(f"cannot read the expression {expr!r}")
        pos = 0

        def peek() -> str | None:
            return tokens[pos] if pos < len(tokens) else None

        def take() -> str:
            nonlocal pos
            pos += 1
            return tokens[pos - 1]

        def atom() -> Any:
            tok = take()
            if tok == "(":
                value = either()
                assert take() == ")"
                return value
            if tok == "!":
                return not truthy(atom())
            if tok.startswith("'"):
                return tok[1:-1].replace("''", "'")
            if tok in ("true", "false"):
                return tok == "true"
            if tok.isdigit():
                return int(tok)
            if tok.endswith("()"):
                return {
                    "always()": True,
                    "success()": self.status == "success",
                    "failure()": self.status == "failure",
                }[tok]
            return self.lookup(tok)

        def compare() -> Any:
            left = atom()
            while peek() in ("==", "!="):
                op, right = take(), atom()
                same = str(left).lower() == str(right).lower()
                left = same if op == "==" else not same
            return left

        def both() -> Any:
            left = compare()
            while peek() == "&&":
                take()
                right = compare()
                left = right if truthy(left) else left
            return left

        def either() -> Any:
            left = both()
            while peek() == "||":
                take()
                right = both()
                left = left if truthy(left) else right
            return left

        value = either()
        assert pos == len(tokens), f"trailing tokens in {expr!r}"
        return value

    def render(self, text: str) -> str:
        return EXPR.sub(lambda m: _string(self.evaluate(m.group(1))), text)

    def condition(self, text: str | None) -> bool:
        if text is None:
            return self.status == "success"
        inner = EXPR.fullmatch(text.strip())
        expr = inner.group(1) if inner else text
        uses_status = any(f in expr for f in ("always()", "success()", "failure()"))
        result = truthy(self.evaluate(expr))
        return result if uses_status else result and self.status == "success"

    # -- steps --------------------------------------------------------------------------------
    def run(self) -> list[StepRun]:
        """Run every step in order; the composite fails when a run step fails."""
        done = []
        for i, step in enumerate(self.action["runs"]["steps"]):
            name = step.get("name", f"step {i}")
            if not self.condition(step.get("if")):
                done.append(StepRun(name, False, "skipped"))
                continue
            if "uses" in step:
                done.append(
                    StepRun(
                        name,
                        False,
                        "success",
                        uses=step["uses"],
                        with_={k: self.render(str(v)) for k, v in step.get("with", {}).items()},
                    )
                )
                continue
            done.append(self._run_step(name, step))
        return done

    def _run_step(self, name: str, step: dict[str, Any]) -> StepRun:
        assert step.get("shell") == "bash", f"{name}: only shell: bash is emulated"
        script = self.temp / "step.sh"
        script.write_text(self.render(step["run"]))
        env = {
            "PATH": os.pathsep.join([*self.extra_path, self.path]),
            "HOME": str(self.temp),
            "LANG": "C.UTF-8",
            "RUNNER_TEMP": str(self.temp),
            "CI": "true",
            "GITHUB_ACTION_PATH": str(self.action_dir),
            "GITHUB_WORKSPACE": str(self.workspace),
            **{k: str(v) for k, v in self.files.items()},
            **{k: self.render(str(v)) for k, v in step.get("env", {}).items()},
        }
        self.files["GITHUB_OUTPUT"].write_text("")
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=self.workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        outputs = parse_outputs(self.files["GITHUB_OUTPUT"].read_text())
        if "id" in step:
            self.steps[step["id"]] = {
                "outputs": outputs,
                "outcome": "success" if done.returncode == 0 else "failure",
            }
        self.extra_path = [
            p for p in self.files["GITHUB_PATH"].read_text().splitlines() if p
        ] + self.extra_path
        outcome = "success" if done.returncode == 0 else "failure"
        if outcome == "failure":
            self.status = "failure"
        return StepRun(name, True, outcome, done.returncode, done.stdout + done.stderr)


def parse_outputs(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT: `name=value` lines and `name<<DELIMITER` blocks."""
    out: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            block = []
            for inner in lines:
                if inner == delimiter:
                    break
                block.append(inner)
            out[name] = "\n".join(block)
        elif "=" in line:
            name, value = line.split("=", 1)
            out[name] = value
    return out


def truthy(value: Any) -> bool:
    return value not in ("", 0, False, None)


def _string(value: Any) -> str:
    if value is True or value is False:
        return str(value).lower()
    return "" if value is None else str(value)
