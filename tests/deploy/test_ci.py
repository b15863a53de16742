"""`check` in every CI, each run the way its CI runs it: the GitHub Action's steps through
its own shell (tests/deploy/actionrunner.py), the GitLab template's script, the pre-commit
hook through `pre-commit try-repo`, and the Tekton Task's step script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.conftest import git
from tests.deploy.actionrunner import Runner
from tests.formats.test_codequality import REPORT

ROOT = Path(__file__).resolve().parents[2]
PATH = os.pathsep.join(
    [
        str(ROOT / ".venv" / "bin"),
        str(ROOT / ".tools" / "bin"),
        "/usr/local/bin",
        "/usr/bin",
        "/bin",
    ]
)


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example repository (branch `change` fails its checks) plus a passing branch."""
    repo = tmp_path_factory.mktemp("ci") / "shop"
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "make_repo.py"), str(repo)],
        check=True,
        capture_output=True,
    )
    git(repo, "checkout", "-q", "-b", "good", "main")
    (repo / "charts/shop/values-staging.yaml").write_text("replicas: 2\n")
    git(repo, "commit", "-qam", "shop: two replicas in staging")
    git(repo, "checkout", "-q", "main")
    return repo


def clone(remote: Path, branch: str, dest: Path, *, depth: int | None = None) -> Path:
    args = ["git", "clone", "-q", "--branch", branch]
    args += [f"--depth={depth}"] if depth else []
    subprocess.run([*args, f"file://{remote}", str(dest)], check=True, capture_output=True)
    return dest


def sha(repo: Path, ref: str) -> str:
    return git(repo, "rev-parse", ref)


# -- GitHub Action --------------------------------------------------------------------------
def run_action(remote: Path, branch: str, tmp_path: Path) -> tuple[Runner, list, Path]:
    # actions/checkout's default: the pull request's commit alone (a shallow clone)
    workspace = clone(remote, branch, tmp_path / "workspace", depth=1)
    github = {
        "event": {
            "pull_request": {
                "base": {"sha": sha(remote, "main")},
                "head": {"sha": sha(remote, branch)},
            }
        }
    }
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    runner = Runner(ROOT, workspace, temp, github, {}, PATH)
    return runner, runner.run(), workspace


def test_action_fails_on_findings_after_uploading_sarif(remote: Path, tmp_path: Path) -> None:
    runner, steps, workspace = run_action(remote, "change", tmp_path)
    by_name = {s.name: s for s in steps}
    assert [s.outcome for s in steps] == ["success", "success", "success", "success", "failure"], [
        s.output for s in steps
    ]
    assert (
        "using " + str(ROOT / ".venv" / "bin" / "gitops-bot")
        in by_name["Install gitops-bot"].output
    )
    assert runner.steps["check"]["outputs"]["exit-code"] == "1"
    upload = by_name["Upload the findings to code scanning"]
    assert upload.uses == "github/codeql-action/upload-sarif@v3"
    assert upload.with_ == {"sarif_file": "gitops-bot.sarif", "category": "gitops-bot"}
    sarif = json.loads((workspace / upload.with_["sarif_file"]).read_text())
    assert sarif["version"] == "2.1.0"
    assert any("spec.replicas" in r["message"]["text"] for r in sarif["runs"][0]["results"])
    summary = runner.files["GITHUB_STEP_SUMMARY"].read_text()
    assert "gitops-bot review" in summary and "spec.replicas" in summary
    assert by_name["Fail on findings"].exit_code == 1
    assert git(workspace, "rev-parse", "--is-shallow-repository") == "false"


def test_action_passes_a_clean_change(remote: Path, tmp_path: Path) -> None:
    runner, steps, _ = run_action(remote, "good", tmp_path)
    assert [s.outcome for s in steps] == ["success", "success", "success", "success", "skipped"], [
        s.output for s in steps
    ]
    assert runner.steps["check"]["outputs"]["exit-code"] == "0"
    assert runner.status == "success"


def test_action_scripts_never_interpolate_expressions() -> None:
    """Inputs reach scripts through `env` only: `${{ }}` in a script is injectable."""
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    for step in action["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step["name"]


# -- GitLab CI template ---------------------------------------------------------------------
def gitlab_job() -> tuple[dict, dict]:
    template = yaml.safe_load((ROOT / "deploy/gitlab-ci/gitops-bot.gitlab-ci.yml").read_text())
    job = template["gitops-bot-check"]
    base = template[job["extends"]]
    return template, {**base, **{k: v for k, v in job.items() if k != "extends"}}


@pytest.mark.parametrize("branch,code", [("change", 1), ("good", 0)])
def test_gitlab_template_script_writes_the_code_quality_report(
    remote: Path, tmp_path: Path, branch: str, code: int
) -> None:
    template, job = gitlab_job()
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    workspace = clone(remote, branch, tmp_path / "project")
    variables = {
        **template["variables"],
        **job["variables"],
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": sha(remote, "main"),
        "CI_COMMIT_SHA": sha(remote, branch),
    }
    # The runner's bash shell runs the job's script lines in one session, stopping at the
    # first failing one (set -eo pipefail).
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", "\n".join(job["script"])],
        cwd=workspace,
        env={"PATH": PATH, "HOME": str(tmp_path), **variables},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == code, done.stdout + done.stderr
    reports = job["artifacts"]["reports"]
    issues = json.loads((workspace / reports["codequality"]).read_text())
    jsonschema.validate(issues, REPORT)
    assert bool(issues) is (code == 1)
    junit = ET.parse(workspace / reports["junit"]).getroot()
    assert junit.tag == "testsuites" and junit.get("failures") == ("0" if code == 0 else "2")
    assert "gitops-bot review" in (workspace / job["artifacts"]["paths"][0]).read_text()
    assert job["artifacts"]["when"] == "always"


# -- pre-commit -----------------------------------------------------------------------------
def test_pre_commit_hook_blocks_a_broken_tree_and_passes_a_good_one(
    remote: Path, tmp_path: Path
) -> None:
    env = {
        "PATH": PATH,
        "HOME": str(tmp_path),
        "PRE_COMMIT_HOME": str(tmp_path / "cache"),
        "LANG": "C.UTF-8",
    }
    hook = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert [h["id"] for h in hook] == ["gitops-bot-check"] and hook[0]["language"] == "python"
    results = {}
    for branch in ("change", "good"):
        repo = clone(remote, branch, tmp_path / branch)
        done = subprocess.run(
            [
                str(ROOT / ".venv" / "bin" / "pre-commit"),
                "try-repo",
                str(ROOT),
                "gitops-bot-check",
                "--all-files",
            ],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        results[branch] = done
    broken, good = results["change"], results["good"]
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "gitops-bot check" in broken.stdout and "Failed" in broken.stdout
    assert "spec.replicas" in broken.stdout
    assert good.returncode == 0, good.stdout + good.stderr
    assert "Passed" in good.stdout


# -- Tekton ---------------------------------------------------------------------------------
def tekton_substitute(text: str, values: dict[str, str]) -> str:
    """Tekton's variable substitution: `$(params.x)`, `$(workspaces.w.path)`, ..."""
    for name, value in values.items():
        text = text.replace(f"$({name})", value)
    assert "$(params." not in text and "$(workspaces." not in text and "$(results." not in text
    return text


@pytest.mark.parametrize("branch,code", [("change", 1), ("good", 0)])
def test_tekton_task_step_writes_junit_and_its_result(
    remote: Path, tmp_path: Path, branch: str, code: int
) -> None:
    task = yaml.safe_load((ROOT / "deploy/tekton/gitops-bot-check.yaml").read_text())
    assert task["apiVersion"] == "tekton.dev/v1" and task["kind"] == "Task"
    source = clone(remote, branch, tmp_path / "source")
    results = tmp_path / "results"
    results.mkdir()
    params = {p["name"]: p.get("default", "") for p in task["spec"]["params"]}
    params.update(base=sha(remote, "main"), head=sha(remote, branch))
    values = {
        **{f"params.{k}": v for k, v in params.items()},
        "workspaces.source.path": str(source),
        "results.exit-code.path": str(results / "exit-code"),
    }
    [step] = task["spec"]["steps"]
    script = tmp_path / "script"
    script.write_text(tekton_substitute(step["script"], values))
    script.chmod(0o755)
    env = {e["name"]: tekton_substitute(e["value"], values) for e in step["env"]}
    done = subprocess.run(
        [str(script)],
        cwd=tekton_substitute(step["workingDir"], values),
        env={"PATH": PATH, "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == code, done.stdout + done.stderr
    assert (results / "exit-code").read_text() == str(code)
    junit = ET.parse(source / "gitops-bot-junit.xml").getroot()
    assert junit.get("failures") == ("0" if code == 0 else "2")
    assert (source / "gitops-bot-report.md").is_file()
    assert step["image"] == "$(params.image)" and params["image"].endswith(":0.1.0")
