"""KubeconformValidator: documented JSON output parsing, and the subprocess path via a stand-in.

No kubeconform binary exists on these machines. The parser is tested on kubeconform's own
documented output samples (tests/fixtures/kubeconform/, see PROVENANCE.md). The subprocess
path runs a STAND-IN executable written by these tests: a small Python script that reads
kubeconform's flags, resolves schemas with kubeconform's `-schema-location` template rules,
validates with jsonschema and prints kubeconform's documented `-output json` format.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.errors import ToolError, ToolMissing, UserError
from bot.model import Manifest, Severity
from bot.tools import Tools
from bot.validate import EmbeddedValidator, KubeconformValidator, make_validator
from bot.validate.kubeconform import parse_output, pointer_to_path, result_findings, status_of
from tests.conftest import FIXTURES
from tests.validate.samples import CONFIGMAP, CRD, DEPLOYMENT, SERVICE, WIDGET

SAMPLES = FIXTURES / "kubeconform"

STAND_IN = r"""#!{python}
# STAND-IN for kubeconform (test double, not the real binary): same flags, same JSON output.
import json, os, sys
import jsonschema
args = sys.argv[1:]
with open({log!r}, "a") as log:
    log.write(json.dumps(args) + "\n")
mode = {mode!r}
if mode == "garbage":
    print("panic: something broke"); sys.exit(2)
if mode == "silent":
    print(json.dumps({{"resources": [], "summary": {{}}}})); sys.exit(0)
opts, i = {{}}, 0
while i < len(args) - 1:
    if args[i] in ("-strict", "-summary", "-verbose"):
        opts[args[i]] = True; i += 1
    else:
        opts[args[i]] = args[i + 1]; i += 2
folder = args[-1]
results, counts = [], {{"valid": 0, "invalid": 0, "errors": 0, "skipped": 0}}
for name in sorted(os.listdir(folder)):
    path = os.path.join(folder, name)
    doc = json.load(open(path))
    api, kind = doc["apiVersion"], doc["kind"]
    parts = api.split("/")
    suffix = "-" + parts[0].split(".")[0].lower() + \
        ("-" + parts[1].lower() if len(parts) > 1 else "")
    loc = (opts["-schema-location"]
           .replace("{{{{ .NormalizedKubernetesVersion }}}}", "v" + opts["-kubernetes-version"])
           .replace("{{{{ .StrictSuffix }}}}", "-strict" if "-strict" in opts else "")
           .replace("{{{{ .ResourceKind }}}}", kind.lower())
           .replace("{{{{ .KindSuffix }}}}", suffix))
    res = {{"filename": path, "kind": kind, "name": doc["metadata"]["name"], "version": api}}
    if not os.path.exists(loc):
        res.update(status="statusError", msg="could not find schema for " + kind)
        counts["errors"] += 1
    else:
        errs = []
        for e in jsonschema.Draft7Validator(json.load(open(loc))).iter_errors(doc):
            pointer = "".join("/" + str(p) for p in e.absolute_path)
            if e.validator == "type":
                msg = "expected %s, but got %s" % (e.validator_value, type(e.instance).__name__)
            elif e.validator == "additionalProperties":
                extra = e.message.split("(")[1].split(" ")[0]
                msg = "additionalProperties " + extra + " not allowed"
            elif e.validator == "required":
                msg = "missing properties: " + e.message.split(" ")[0]
            else:
                msg = e.message
            errs.append({{"path": pointer, "msg": msg}})
        if errs:
            res.update(status="statusInvalid", msg=errs[0]["msg"], validationErrors=errs)
            counts["invalid"] += 1
        else:
            res.update(status="statusValid", msg="")
            counts["valid"] += 1
    results.append(res)
print(json.dumps({{"resources": results, "summary": counts}}, indent=2))
sys.exit(1 if counts["invalid"] or counts["errors"] else 0)
"""


def stand_in(tmp_path: Path, mode: str = "normal") -> tuple[str, Path]:
    """Write the stand-in kubeconform; returns its path and the file logging its argv."""
    log = tmp_path / "argv.log"
    exe = tmp_path / "bin" / "kubeconform"
    exe.parent.mkdir(exist_ok=True)
    exe.write_text(STAND_IN.format(python=sys.executable, log=str(log), mode=mode))
    exe.chmod(0o755)
    return str(exe), log


def m(body: dict[str, Any], line: int = 1) -> Manifest:
    return Manifest(copy.deepcopy(body), "app/all.yaml", line)


# --- parser, on kubeconform's documented samples ------------------------------------------


def test_documented_invalid_result_maps_to_findings() -> None:
    [result] = parse_output((SAMPLES / "json-verbose-invalid.json").read_bytes())
    assert status_of(result) == "invalid"
    manifest = Manifest(
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "my-app"}},
        "deploy.yaml",
        4,
    )
    [found] = result_findings(manifest, result)
    assert found.message == "Deployment/my-app: foo: bar"
    assert (found.file, found.line, found.check, found.severity) == (
        "deploy.yaml",
        4,
        "validate",
        Severity.ERROR,
    )


def test_documented_valid_and_summary_only_outputs() -> None:
    [valid] = parse_output((SAMPLES / "json-verbose-valid.json").read_text())
    assert status_of(valid) == "valid"
    assert result_findings(Manifest({"kind": "Deployment"}), valid) == []
    assert parse_output((SAMPLES / "json-summary-valid.json").read_text()) == []
    assert parse_output((SAMPLES / "json-no-summary-empty.json").read_text()) == []


def test_readme_sample_with_older_status_spelling_and_no_error_list() -> None:
    [result] = parse_output((SAMPLES / "readme-summary-invalid.json").read_text())
    assert status_of(result) == "invalid"
    manifest = Manifest(
        {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "bob"}},
        "fixtures/invalid.yaml",
        1,
    )
    [found] = result_findings(manifest, result)
    assert found.message.startswith("ReplicationController/bob: Additional property templates")


@pytest.mark.parametrize(
    "pointer,path",
    [
        ("", ""),
        ("/spec/replicas", "spec.replicas"),
        ("/spec/containers/0", "spec.containers[0]"),
        ("/metadata/labels/a~1b", 'metadata.labels["a/b"]'),
    ],
)
def test_json_pointer_paths(pointer: str, path: str) -> None:
    assert pointer_to_path(pointer) == path


@pytest.mark.parametrize("text", ["not json", "[]", '{"summary": {}}'])
def test_unparseable_output_is_a_tool_error(text: str) -> None:
    with pytest.raises(ToolError):
        parse_output(text)


# --- subprocess path, with the stand-in ----------------------------------------------------


def test_argv_and_local_schema_layout(tmp_path: Path) -> None:
    exe, log = stand_in(tmp_path)
    assert KubeconformValidator(exe).validate([m(DEPLOYMENT), m(SERVICE)], "v1.35.2") == []
    [argv] = [json.loads(line) for line in log.read_text().splitlines()]
    assert argv[:6] == ["-output", "json", "-summary", "-verbose", "-kubernetes-version", "1.35.0"]
    location = argv[argv.index("-schema-location") + 1]
    assert location.endswith(
        "/{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}/"
        "{{ .ResourceKind }}{{ .KindSuffix }}.json"
    )
    assert location.startswith("/") and "://" not in location
    assert "-strict" in argv
    assert KubeconformValidator(exe, strict=False).validate([m(DEPLOYMENT)], "1.35") == []
    assert "-strict" not in json.loads(log.read_text().splitlines()[-1])


def test_findings_match_the_embedded_shape(tmp_path: Path) -> None:
    exe, _ = stand_in(tmp_path)
    bad = copy.deepcopy(DEPLOYMENT)
    bad["spec"]["replicas"] = "three"
    bad["spec"]["template"]["spec"]["containers"][0]["imagee"] = "x"
    objs = [m(SERVICE, 1), m(bad, 12), m(CONFIGMAP, 40)]
    found = KubeconformValidator(exe).validate(objs, "1.35")
    assert sorted((f.message, f.line) for f in found) == [
        ("Deployment/web: spec.replicas: expected ['integer', 'null'], but got str", 12),
        (
            (
                "Deployment/web: spec.template.spec.containers[0]: additionalProperties 'imagee' "
                "not allowed"
            ),
            12,
        ),
    ]
    embedded = EmbeddedValidator().validate(objs, "1.35")
    assert {(f.file, f.line, f.object, f.check, f.severity) for f in found} == {
        (f.file, f.line, f.object, f.check, f.severity) for f in embedded
    }


def test_crds_unknown_kinds_and_skips_are_settled_before_kubeconform(tmp_path: Path) -> None:
    exe, _ = stand_in(tmp_path)
    bad = copy.deepcopy(WIDGET)
    bad["spec"]["size"] = "big"
    other = {"apiVersion": "example.org/v1", "kind": "Gadget", "metadata": {"name": "g"}}
    skipped = {"apiVersion": "example.net/v1", "kind": "Thing", "metadata": {"name": "t"}}
    found = KubeconformValidator(exe, skip_kinds=["Thing"]).validate(
        [m(CRD), m(bad, 5), m(other, 9), m(skipped, 12)], "1.35"
    )
    assert sorted((f.line, f.message.split(":")[1].strip()) for f in found) == [
        (5, "spec.size"),
        (9, "no schema for example.org/v1 Gadget in Kubernetes 1.35"),
    ]


def test_version_errors_need_no_subprocess(tmp_path: Path) -> None:
    exe, log = stand_in(tmp_path)
    [found] = KubeconformValidator(exe).validate([m(DEPLOYMENT)], "1.19")
    assert "not supported" in found.message and not log.exists()


def test_crashing_tool_raises_tool_error(tmp_path: Path) -> None:
    exe, _ = stand_in(tmp_path, mode="garbage")
    with pytest.raises(ToolError, match="exited with code 2"):
        KubeconformValidator(exe).validate([m(DEPLOYMENT)], "1.35")


def test_objects_without_a_result_fail_closed(tmp_path: Path) -> None:
    exe, _ = stand_in(tmp_path, mode="silent")
    [found] = KubeconformValidator(exe).validate([m(DEPLOYMENT, 3)], "1.35")
    assert found.line == 3 and "reported no result" in found.message


# --- make_validator --------------------------------------------------------------------------


def tools(kubeconform: str | None) -> Tools:
    return Tools(helm=None, kubectl=None, git="git", kubeconform=kubeconform)


def test_make_validator_choice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    exe, _ = stand_in(tmp_path)
    assert isinstance(make_validator(tools(exe)), KubeconformValidator)
    assert isinstance(make_validator(tools(exe), prefer="embedded"), EmbeddedValidator)
    assert isinstance(make_validator(tools(None)), EmbeddedValidator)
    with pytest.raises(ToolMissing):
        make_validator(tools(None), prefer="kubeconform")
    with pytest.raises(UserError):
        make_validator(tools(None), prefer="fastest")
    monkeypatch.setenv("PATH", str(Path(exe).parent))
    chosen = make_validator(tools(None), skip_kinds=["X"], strict=False)
    assert isinstance(chosen, KubeconformValidator) and not chosen.strict
