"""Every limit in the code, and what hitting it does: a limit that stops something from
being evaluated is an ERROR finding naming the limit and the file (or fails the review
closed), never a silent pass. The table lists every limit the code defines (a scan of
bot/ keeps it complete); each evaluation limit has a case that hits it for real."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.gitrepo import EmptySnapshot, WorktreeSnapshot
from bot.model import Finding, Severity, Target
from bot.pipeline.review import ReviewOptions, run_review
from bot.render.sandbox import Budgets
from bot.repo.targets import target_inputs
from bot.tools import Tools
from tests.conftest import write_tree
from tests.e2e.loop import SLOW_TEMPLATE

ROOT = Path(__file__).resolve().parents[2]
NO_FINDINGS: list[Finding] = []  # the fallback value of a failed stage

FINDING = "an ERROR finding naming the limit and the file"
CLOSED = "fails closed: the target counts as reading every file (every change affects it)"
REVIEW_FAILS = (
    "the review fails and says why (check: exit 2; service: 'review failed' status and comment)"
)

# Every limit the code defines -> what hitting it does. Keys: "<file>:<NAME>".
LIMITS: dict[str, str] = {
    # limits of what a review evaluates (each proved below)
    "bot/render/sandbox.py:max_file_bytes": FINDING,
    "bot/render/sandbox.py:max_render_bytes": FINDING,
    "bot/render/sandbox.py:max_yaml_nodes": FINDING,
    "bot/render/sandbox.py:render_timeout": FINDING,
    "bot/render/sandbox.py:max_app_bytes": FINDING,
    "bot/render/helmschema.py:MAX_ARCHIVE_DEPTH": FINDING,
    # proved in tests/render/test_helm.py (an archive bomb stops at the cap)
    "bot/render/helmschema.py:MAX_ARCHIVE_BYTES": FINDING,
    "bot/render/kustomize.py:MAX_KUSTOMIZATIONS": FINDING,
    "bot/pipeline/policies.py:MAX_POLICY_BYTES": FINDING,
    "bot/policy/policyset.py:MAX_FILES": FINDING,
    "bot/policy/policyset.py:MAX_BYTES": FINDING,
    "bot/validate/kubeconform.py:timeout": FINDING,
    "bot/repo/kustomize_refs.py:MAX_DIRS": CLOSED,
    "bot/repo/targets.py:MAX_CHARTS": CLOSED,
    "bot/repo/repo_config.py:MAX_CONFIG_BYTES": "a configuration error naming the file and "
    "the limit (check: exit 2)",
    # the sandboxed policy process: RegoFailure -> the engine's ERROR finding ("policy engine
    # error"); hitting them is proved in tests/policy/test_untrusted.py
    "bot/policy/isolated.py:DEFAULT_COMPILE_TIMEOUT": FINDING,
    "bot/policy/isolated.py:DEFAULT_ANSWER_TIMEOUT": FINDING,
    "bot/policy/isolated.py:answer_timeout": FINDING,
    "bot/policy/isolated.py:compile_timeout": FINDING,
    "bot/policy/isolated.py:DEFAULT_MEMORY": FINDING,
    # an OPA server that does not answer in time: the engine's ERROR finding (proved in
    # tests/policy/test_opa_parity.py::test_opa_down_is_a_failing_check)
    "bot/policy/opa_server.py:timeout": FINDING,
    # the input walk's YAML budget (Chart.yaml, kustomization.yaml)
    "bot/repo/safeyaml.py:max_bytes": CLOSED,
    "bot/repo/safeyaml.py:max_nodes": CLOSED,
    # Argo CD / Flux targets (bot/repo/, bot/pipeline/gitops.py). Gap: these say it, but as a
    # WARNING ("not rendered: ... more than N ...") or a note, not as an ERROR
    "bot/repo/appset.py:MAX_PARAMS": "a WARNING finding naming the limit (not rendered)",
    "bot/repo/gotemplate.py:MAX_OUTPUT": "a WARNING finding naming the limit (not rendered)",
    "bot/repo/gitops_targets.py:MAX_ROUNDS": "a note naming the limit (deeper objects are "
    "not reviewed)",
    "bot/render/postbuild.py:max_bytes": "an ERROR finding (the object is not valid YAML "
    "after substitution)",
    # renderers pass max_render_bytes and render_timeout; other commands (git) fail the review
    "bot/proc.py:timeout": REVIEW_FAILS,
    "bot/proc.py:max_line": "the sandboxed policy process' answer: RegoFailure, an ERROR "
    "finding (policy engine error)",
    "bot/proc.py:DEFAULT_TIMEOUT": REVIEW_FAILS,
    "bot/proc.py:DEFAULT_MAX_OUTPUT": REVIEW_FAILS,
    "bot/proc.py:max_output": REVIEW_FAILS,
    "bot/gitrepo.py:timeout": REVIEW_FAILS,
    "bot/forges/github_api.py:MAX_LISTED_FILES": REVIEW_FAILS,
    # reading what is live: a failure is the 'live state unavailable' ERROR finding per target
    "bot/live/kubectl.py:MAX_KUBECONFIG_BYTES": "live state unavailable: an ERROR finding",
    "bot/live/kubectl.py:timeout": "live state unavailable: an ERROR finding",
    "bot/live/kubernetes.py:timeout": "live state unavailable: an ERROR finding",
    "bot/live/gitbranch.py:timeout": "live state unavailable: an ERROR finding",
    "bot/live/argocd.py:timeout": "the deploy fails and is reported (not a review)",
    "bot/pipeline/deploy.py:argocd_timeout": "the deploy fails and is reported (not a review)",
    "bot/repo/repo_config.py:timeout": "Flux reconcile after a deploy (not a review)",
    # caches: past the bound the oldest entry goes and the work is done again, never skipped
    "bot/gitbatch.py:MAX_READERS": "cache bound: the oldest git reader is closed and reopened",
    "bot/render/parsecache.py:MAX_CACHED_BYTES": "cache bound: the document is parsed again",
    "bot/render/parsecache.py:max_bytes": "cache bound: the document is parsed again",
    # retried, never a verdict
    "bot/pipeline/workspace.py:FETCH_TIMEOUT": "Transient: the job is retried",
    "bot/forges/github_api.py:timeout": "Transient: the job is retried",
    "bot/forges/gitlab_api.py:timeout": "Transient: the job is retried",
    "bot/cli/doctor.py:timeout": "`gitops-bot doctor` reports the check as failed",
    "bot/forges/retry.py:SECONDARY_LIMIT_WAIT": "retry delay, not a limit on evaluation",
    "bot/queue.py:MAX_ATTEMPTS": "retry policy (then dead-lettered), not a limit on evaluation",
    "bot/queue.py:MAX_BACKOFF": "retry policy, not a limit on evaluation",
    # what is shown, never what is evaluated (the full report keeps everything)
    "bot/report.py:GITHUB_COMMENT_LIMIT": "presentation: the full report is linked",
    "bot/report.py:GITLAB_NOTE_LIMIT": "presentation: the full report is linked",
    "bot/report.py:STATUS_LIMIT": "presentation",
    "bot/report_sections.py:MESSAGE_LIMIT": "presentation (JSON keeps the whole message)",
    "bot/report.py:max_chars": "presentation: the full report is linked",
    "bot/forges/base.py:STATUS_DESCRIPTION_LIMIT": "presentation",
    "bot/forges/github_api.py:SUMMARY_LIMIT": "presentation (check run summary)",
    "bot/forges/github_api.py:OUTPUT_TITLE_LIMIT": "presentation (check run title)",
    "bot/forges/github_api.py:ANNOTATION_MESSAGE_LIMIT": "presentation (an annotation)",
    "bot/forges/github_api.py:ANNOTATION_TITLE_LIMIT": "presentation (an annotation)",
    "bot/pipeline/job.py:MAX_ANNOTATIONS": "presentation (every finding is in the comment)",
    "bot/pipeline/change.py:MAX_CONFLICTS_SHOWN": "presentation",
    "bot/render/plain.py:MAX_NAMED": "presentation (skipped files are counted)",
    "bot/decide.py:MAX_CANDIDATES": "presentation",
    "bot/commands.py:MAX_REASON": "a longer reason is refused with a reply (no waiver given)",
    "bot/metrics.py:RATE_LIMIT_WAITS": "a metric's name, not a limit",
    "bot/metrics.py:RATE_LIMIT_SECONDS": "a metric's name, not a limit",
    # webhook intake and the API: refused with a 4xx before anything is queued
    "bot/config.py:DEFAULT_MAX_BODY": "intake: 413, nothing reviewed",
    "bot/config.py:max_body_bytes": "intake: 413, nothing reviewed",
    "bot/config.py:DEFAULT_QUEUE_MAX": "intake: 503 + Retry-After, the delivery not recorded "
    "(the forge redelivers it)",
    "bot/web/hooks.py:MAX_JSON_DEPTH": "intake: 400, nothing reviewed",
    "bot/forges/payload.py:MAX_INT": "intake: 400, nothing reviewed",
    "bot/forges/gitlab_parse.py:MAX_PATH_SEGMENTS": "intake: 400, nothing reviewed",
    "bot/forges/payload.py:max_segments": "intake: 400, nothing reviewed",
    "bot/web/api.py:MAX_LIMIT": "API page size",
    "bot/validate/sops.py:_STRING_LIMITS": "not a limit: the JSON Schema keywords that "
    "constrain a string",
}

_CONSTANT = re.compile(
    r"^((?:[A-Z0-9_]*_)?(?:MAX|LIMIT|TIMEOUT|MEMORY)[A-Z0-9_]*)\s*(?::[^=]*)?=", re.MULTILINE
)
_PARAMETER = re.compile(r"\b((?:max_\w+|\w*timeout))\s*:\s*(?:int|float)\s*=")


def limits_in_code() -> set[str]:
    found: set[str] = set()
    for path in sorted((ROOT / "bot").rglob("*.py")):
        text = path.read_text()
        rel = path.relative_to(ROOT).as_posix()
        found.update(f"{rel}:{m.group(1)}" for m in _CONSTANT.finditer(text))
        found.update(f"{rel}:{m.group(1)}" for m in _PARAMETER.finditer(text))
    return found


def test_the_table_lists_every_limit_in_the_code() -> None:
    code = limits_in_code()
    assert code - set(LIMITS) == set(), "a limit the table does not list"
    assert set(LIMITS) - code == set(), "the table lists a limit the code no longer has"


# -- each evaluation limit, hit for real ----------------------------------------------------

CM = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: n\n"
    "  labels: {{app.kubernetes.io/name: x}}\ndata: {{a: b}}\n"
)


def review(
    root: Path, tools: Tools, budgets: Budgets = Budgets(), **options: object
) -> list[Finding]:
    settings: dict[str, object] = {"server_policies": None, **options}
    opts = ReviewOptions(tools=tools, budgets=budgets, **settings)  # type: ignore[arg-type]
    result = run_review(EmptySnapshot(), WorktreeSnapshot(root), None, opts)
    return [*result.findings, *(f for t in result.targets for f in t.findings)]


def one_error(findings: list[Finding], *words: str) -> Finding:
    errors = [
        f for f in findings if f.severity is Severity.ERROR and all(w in f.message for w in words)
    ]
    assert len(errors) == 1, findings
    return errors[0]


def _file_size(tmp: Path, tools: Tools) -> Finding:
    write_tree(tmp, {"app/big.yaml": CM.format(name="big") + "# " + "x" * 500 + "\n"})
    return one_error(review(tmp, tools, Budgets(max_file_bytes=300)), "limit 300")


def _render_size(tmp: Path, tools: Tools) -> Finding:
    write_tree(tmp, {f"app/{n}.yaml": CM.format(name=n) for n in "abcdef"})
    return one_error(review(tmp, tools, Budgets(max_render_bytes=400)), "more than 400 bytes")


def _yaml_nodes(tmp: Path, tools: Tools) -> Finding:
    write_tree(tmp, {"app/cm.yaml": CM.format(name="cm")})
    return one_error(review(tmp, tools, Budgets(max_yaml_nodes=5)), "more than 5 nodes")


def _render_timeout(tmp: Path, tools: Tools) -> Finding:
    write_tree(
        tmp,
        {
            "slow/Chart.yaml": "apiVersion: v2\nname: slow\nversion: 0.1.0\n",
            "slow/values.yaml": "spin: 50000000\n",
            "slow/templates/cm.yaml": SLOW_TEMPLATE,
        },
    )
    return one_error(review(tmp, tools, Budgets(render_timeout=0.5)), "timed out after 0.5s")


CHART = "apiVersion: v2\nname: {0}\nversion: 0.1.0\n"


def _app_size(tmp: Path, tools: Tools) -> Finding:
    write_tree(
        tmp,
        {"shop/Chart.yaml": CHART.format("shop"), "shop/templates/cm.yaml": CM.format(name="c")},
    )
    return one_error(review(tmp, tools, Budgets(max_app_bytes=100)), "limit 100")


def _archive_depth(tmp: Path, tools: Tools, monkeypatch: pytest.MonkeyPatch) -> Finding:
    import io
    import tarfile

    monkeypatch.setattr("bot.render.helmschema.MAX_ARCHIVE_DEPTH", 0)
    write_tree(
        tmp,
        {
            "shop/Chart.yaml": CHART.format("shop")
            + "dependencies:\n- {name: sub, version: 0.1.0}\n",
            "shop/templates/cm.yaml": CM.format(name="c"),
        },
    )
    (tmp / "shop/charts").mkdir()
    with tarfile.open(tmp / "shop/charts/sub-0.1.0.tgz", mode="w:gz") as tar:
        meta = CHART.format("sub").encode()
        info = tarfile.TarInfo("sub/Chart.yaml")
        info.size = len(meta)
        tar.addfile(info, io.BytesIO(meta))
    return one_error(review(tmp, tools), "nested more than 0 archives deep")


def _kustomizations(tmp: Path, tools: Tools, monkeypatch: pytest.MonkeyPatch) -> Finding:
    monkeypatch.setattr("bot.render.kustomize.MAX_KUSTOMIZATIONS", 2)
    write_tree(
        tmp,
        {
            "k/kustomization.yaml": "resources: [../k2]\n",
            "k2/kustomization.yaml": "resources: [../k3]\n",
            "k3/kustomization.yaml": "resources: [cm.yaml]\n",
            "k3/cm.yaml": CM.format(name="c"),
            ".gitops-bot.yaml": "apps:\n  k: {path: k}\n",
        },
    )
    return one_error(review(tmp, tools), "more than 2 kustomizations")


def _policy_folder(tmp: Path, tools: Tools, monkeypatch: pytest.MonkeyPatch) -> Finding:
    monkeypatch.setattr("bot.pipeline.policies.MAX_POLICY_BYTES", 100)
    write_tree(
        tmp,
        {"app/cm.yaml": CM.format(name="c"), "policies/a.rego": "package main\n" + "# pad\n" * 40},
    )
    return one_error(review(tmp, tools), "MAX_POLICY_BYTES", "limit of 100 bytes")


def _policy_files(tmp: Path, tools: Tools, monkeypatch: pytest.MonkeyPatch) -> Finding:
    monkeypatch.setattr("bot.policy.policyset.MAX_FILES", 1)
    server = tmp / "server"
    write_tree(server, {"a.rego": "package main\n", "b.rego": "package main\n"})
    write_tree(tmp, {"app/cm.yaml": CM.format(name="c")})
    return one_error(review(tmp, tools, server_policies=server), "exceed 1 files")


def _policy_bytes(tmp: Path, tools: Tools, monkeypatch: pytest.MonkeyPatch) -> Finding:
    monkeypatch.setattr("bot.policy.policyset.MAX_BYTES", 50)
    server = tmp / "server"
    write_tree(server, {"a.rego": "package main\n" + "# pad\n" * 20})
    write_tree(tmp, {"app/cm.yaml": CM.format(name="c")})
    return one_error(review(tmp, tools, server_policies=server), "or 50 bytes")


def _kubeconform_timeout(tmp: Path, tools: Tools) -> Finding:
    """The validator's own timeout, hit through the stage runner that every review uses."""
    from bot.model import Manifest
    from bot.pipeline.stages import run_stage
    from bot.validate.kubeconform import KubeconformValidator

    stand_in = tmp / "bin" / "kubeconform"  # STAND-IN that hangs (not the real binary)
    write_tree(tmp, {"bin/kubeconform": "#!/bin/sh\nsleep 30\n"})
    stand_in.chmod(0o755)
    validator = KubeconformValidator(str(stand_in), timeout=0.5)
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "n"},
        "data": {"a": "b"},
    }
    target = Target("app", "d", "plain", "app")
    _, [finding] = run_stage(
        target,
        "validate",
        lambda: validator.validate([Manifest(body, "app/cm.yaml", 1)], "1.35"),
        NO_FINDINGS,
    )
    assert finding.check == "validate" and "timed out after 0.5s" in finding.message
    return finding


CASES: dict[str, Callable[..., Finding]] = {
    "bot/render/sandbox.py:max_file_bytes": _file_size,
    "bot/render/sandbox.py:max_render_bytes": _render_size,
    "bot/render/sandbox.py:max_yaml_nodes": _yaml_nodes,
    "bot/render/sandbox.py:render_timeout": _render_timeout,
    "bot/render/sandbox.py:max_app_bytes": _app_size,
    "bot/render/helmschema.py:MAX_ARCHIVE_DEPTH": _archive_depth,
    "bot/render/kustomize.py:MAX_KUSTOMIZATIONS": _kustomizations,
    "bot/pipeline/policies.py:MAX_POLICY_BYTES": _policy_folder,
    "bot/policy/policyset.py:MAX_FILES": _policy_files,
    "bot/policy/policyset.py:MAX_BYTES": _policy_bytes,
    "bot/validate/kubeconform.py:timeout": _kubeconform_timeout,
}
FILES = {
    "bot/render/sandbox.py:max_file_bytes": "app/big.yaml",
    "bot/pipeline/policies.py:MAX_POLICY_BYTES": "policies/a.rego",
}


@pytest.mark.parametrize("limit", sorted(CASES))
def test_an_evaluation_limit_is_an_error_finding(
    limit: str, tmp_path: Path, tools: Tools, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = CASES[limit]
    needs_patch = "monkeypatch" in case.__code__.co_varnames[: case.__code__.co_argcount]
    finding = case(tmp_path, tools, monkeypatch) if needs_patch else case(tmp_path, tools)
    assert finding.severity is Severity.ERROR and finding.file
    if limit in FILES:
        assert finding.file == FILES[limit]


def test_every_finding_limit_has_a_case_or_a_named_proof() -> None:
    proved_elsewhere = {
        "bot/policy/opa_server.py:timeout",
        "bot/render/helmschema.py:MAX_ARCHIVE_BYTES",
        "bot/policy/isolated.py:DEFAULT_COMPILE_TIMEOUT",
        "bot/policy/isolated.py:DEFAULT_ANSWER_TIMEOUT",
        "bot/policy/isolated.py:answer_timeout",
        "bot/policy/isolated.py:compile_timeout",
        "bot/policy/isolated.py:DEFAULT_MEMORY",
    }
    assert {k for k, v in LIMITS.items() if v == FINDING} == set(CASES) | proved_elsewhere


def test_an_unreadable_file_is_an_error_finding_naming_it(tmp_path: Path, tools: Tools) -> None:
    write_tree(tmp_path, {"app/cm.yaml": CM.format(name="c")})
    os.symlink("gone.yaml", tmp_path / "app" / "dangling.yaml")
    finding = one_error(review(tmp_path, tools), "cannot read")
    # the link's target as written (bot/render/appfiles.py names what could not be read)
    assert finding.message == "cannot read app/gone.yaml: no such file or directory"
    assert finding.file and finding.file.startswith("app")


@pytest.mark.parametrize("limit", ["MAX_DIRS", "MAX_CHARTS", "unreadable"])
def test_input_walk_limits_fail_closed(limit: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if limit == "MAX_DIRS":
        monkeypatch.setattr("bot.repo.kustomize_refs.MAX_DIRS", 1)
        files = {
            "k/kustomization.yaml": b"resources: [../k2]\n",
            "k2/kustomization.yaml": b"resources: [../k3]\n",
            "k3/kustomization.yaml": b"resources: []\n",
        }
        target = Target("k", "d", "kustomize", "k")
    elif limit == "MAX_CHARTS":
        monkeypatch.setattr("bot.repo.targets.MAX_CHARTS", 1)
        dep = "dependencies:\n- {name: %s, repository: 'file://../%s'}\n"
        files = {
            "c/Chart.yaml": ("apiVersion: v2\nname: c\n" + dep % ("d", "d")).encode(),
            "d/Chart.yaml": ("apiVersion: v2\nname: d\n" + dep % ("e", "e")).encode(),
            "e/Chart.yaml": b"apiVersion: v2\nname: e\n",
        }
        target = Target("c", "d", "helm", "c")
    else:  # a Chart.yaml too large for the input walk's YAML budget (1 MB)
        files = {"c/Chart.yaml": b"apiVersion: v2\nname: c\n# " + b"x" * (1 << 20) + b"\n"}
        target = Target("c", "d", "helm", "c")
    inputs = target_inputs(target, files, files.get)
    assert "" in inputs  # every file of the repository counts as an input


def test_a_config_file_over_its_limit_names_file_and_limit() -> None:
    from bot.errors import ConfigError
    from bot.repo.repo_config import MAX_CONFIG_BYTES, parse_repo_config

    with pytest.raises(ConfigError) as err:
        parse_repo_config("#" * (MAX_CONFIG_BYTES + 1))
    assert str(err.value).startswith(".gitops-bot.yaml:1: larger than 1048576 bytes")
