"""`.gitops-bot.yaml`: the published schema, parsing to targets, errors with file/line/key."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from tests.repo.config_trees import REALISTIC, SAMPLE_CONFIG, reader

import bot
from bot.repo import repo_config
from bot.errors import ConfigError
from bot.model import Target
from bot.repo.repo_config import (
    CONFIG_FILE,
    Approvals,
    DeployArgoCD,
    DeployGit,
    DeployKubernetes,
    Environment,
    load_schema,
    parse_repo_config,
)
from bot.repo.targets import expand_targets

SCHEMA_FILE = Path(bot.__file__).parent / "schemas" / "gitops-bot.schema.json"


def test_schema_is_valid_draft_2020_12_and_is_the_one_used() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert load_schema() == schema
    assert repo_config._validator().schema == schema
    assert schema["additionalProperties"] is False


def test_schema_closes_every_object() -> None:
    """Every object schema either forbids extra keys or types them: typos never pass."""

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("object", ["object", "null"]):
                assert "additionalProperties" in node or "allOf" in node, where
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    walk(load_schema(), "#")


def test_sample_parses_to_exact_targets() -> None:
    config = parse_repo_config(SAMPLE_CONFIG)
    assert config.environment_names == ("staging", "production")
    assert config.environment("staging") == Environment("staging", "main", "1.35")
    targets = expand_targets(config, REALISTIC, reader(REALISTIC))
    assert targets == [
        Target("web", "staging", "plain", "apps/web", kubernetes_version="1.35"),
        Target("web", "production", "plain", "apps/web"),
        Target("api", "staging", "kustomize", "apps/api/overlays/staging"),
        Target("api", "production", "kustomize", "apps/api/overlays/production"),
        Target(
            "shop",
            "staging",
            "helm",
            "charts/shop",
            ("charts/shop/values-staging.yaml",),
            release="shop",
            namespace="shop",
        ),
        Target(
            "shop",
            "production",
            "helm",
            "charts/shop",
            ("charts/shop/values-production.yaml",),
            release="shop",
            namespace="shop",
        ),
    ]
    assert expand_targets(config, REALISTIC, reader(REALISTIC), "production") == [
        t for t in targets if t.environment == "production"
    ]
    assert config.lines["apps.shop.environments.staging.values[0]"] == 16


def test_unknown_environment_filter_is_a_config_error() -> None:
    config = parse_repo_config(SAMPLE_CONFIG)
    with pytest.raises(ConfigError, match="unknown environment 'prod'"):
        expand_targets(config, REALISTIC, reader(REALISTIC), "prod")


def test_defaults_without_environments_and_renderer_detection() -> None:
    config = parse_repo_config(
        b"apps:\n  api: {path: ./apps/api/overlays/staging/}\n"
        b"  shop: {path: charts/shop, values: [charts/shop/values.yaml]}\n"
        b"  web: {path: apps/web}\n"
    )
    assert config.environments == (Environment("default", "main", "1.35"),)
    assert config.policies_dir == "policies" and config.validation.strict is True
    assert config.validation.kubeconform == "auto" and not config.discovered
    targets = expand_targets(config, REALISTIC, reader(REALISTIC))
    assert [(t.app, t.environment, t.renderer, t.path, t.release) for t in targets] == [
        ("api", "default", "kustomize", "apps/api/overlays/staging", None),
        ("shop", "default", "helm", "charts/shop", "shop"),
        ("web", "default", "plain", "apps/web", None),
    ]
    assert targets[1].values == ("charts/shop/values.yaml",)


def test_full_config_with_overrides_deploy_approvals_validation() -> None:
    config = parse_repo_config("""\
version: 1
environments:
  staging:
    kubernetes_version: 1.30
    deploy: {target: git, branch: env/staging, path: ./rendered/}
  production:
    branch: release
    kubernetes_version: v1.34.2
    self_heal: true
    approvals: {count: 2, groups: [platform]}
    deploy: {target: kubernetes, context: prod, namespace: apps}
  dr:
    deploy: {target: argocd, application: shop-dr}
apps:
  shop:
    path: charts/shop
    release: store
    values: [charts/shop/values.yaml]
    environments:
      staging: {values: [charts/shop/values-staging.yaml], namespace: shop-stg}
      production: {release: store-prod}
      dr: {enabled: false}
  legacy:
    path: apps/web
    environments:
      dr:
policies: {dir: rules}
validation: {strict: false, skip_kinds: [SealedSecret], crd_dirs: [crds], kubeconform: never}
""")
    staging, production, dr = config.environments
    assert staging.kubernetes_version == "1.30"  # not the float 1.3
    assert staging.deploy == DeployGit(branch="env/staging", path="rendered")
    assert production == Environment(
        "production",
        "release",
        "1.34",
        DeployKubernetes(context="prod", namespace="apps"),
        Approvals(2, ("platform",)),
        self_heal=True,
    )
    assert dr.deploy == DeployArgoCD(application="shop-dr") and dr.branch == "main"
    assert config.policies_dir == "rules"
    assert config.validation.skip_kinds == ("SealedSecret",)
    assert config.validation.crd_dirs == ("crds",) and config.validation.kubeconform == "never"
    targets = expand_targets(config, REALISTIC, reader(REALISTIC))
    assert [(t.id, t.values, t.release, t.namespace, t.kubernetes_version) for t in targets] == [
        (
            "shop/staging",
            ("charts/shop/values.yaml", "charts/shop/values-staging.yaml"),
            "store",
            "shop-stg",
            "1.30",
        ),
        # helm releases into the namespace production deploys into
        ("shop/production", ("charts/shop/values.yaml",), "store-prod", "apps", "1.34"),
        ("legacy/dr", (), None, None, "1.35"),
    ]


def error_of(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_repo_config(text, file="repo/.gitops-bot.yaml")
    return info.value


ENVS = "environments:\n  staging: {}\n  production: {}\n"
BAD = [
    ("wrong type", "apps:\n  - web\n", 1, "apps", "expected a mapping, got a list"),
    (
        "wrong scalar type",
        (
            ENVS.replace("{}\n  prod", "{self_heal: yes please}\n  prod", 1)
            + "apps: {web: {path: x}}\n"
        ),
        2,
        "environments.staging.self_heal",
        "expected true or false",
    ),
    (
        "unknown key",
        "apps:\n  web:\n    pth: apps/web\n",
        3,
        "apps.web.pth",
        "unknown key (did you mean 'path'?)",
    ),
    (
        "unknown top-level key",
        "apps: {web: {path: x}}\nenvironment: {}\n",
        2,
        "environment",
        "unknown key (did you mean 'environments'?)",
    ),
    (
        "typo'd renderer",
        "apps:\n  web:\n    path: apps/web\n    renderer: kustomise\n",
        4,
        "apps.web.renderer",
        "did you mean 'kustomize'?",
    ),
    (
        "unknown environment in app",
        ENVS + "apps:\n  web:\n    path: apps/web\n    environments:\n      prod: {}\n",
        8,
        "apps.web.environments.prod",
        "unknown environment 'prod'",
    ),
    ("dotdot path", "apps:\n  web:\n    path: apps/../../etc\n", 3, "apps.web.path", "'..'"),
    ("absolute path", "apps:\n  web:\n    path: /etc/k8s\n", 3, "apps.web.path", "relative"),
    ("backslash path", "apps:\n  web: {path: 'apps\\web'}\n", 2, "apps.web.path", "POSIX"),
    (
        "dotdot values",
        (
            "apps:\n  web:\n    path: charts/web\n    values:\n      - ok.yaml\n"
            "      - ../secret.yaml\n"
        ),
        6,
        "apps.web.values[1]",
        "'..'",
    ),
    ("missing path", "apps:\n  web:\n    renderer: plain\n", 2, "apps.web.path", "missing"),
    (
        "missing path in env",
        ENVS + "apps:\n  api:\n    environments:\n      staging: {path: a}\n"
        "      production: {namespace: x}\n",
        8,
        "apps.api.environments.production.path",
        "set a path",
    ),
    (
        "yaml syntax error",
        "apps:\n  web:\n    path: [apps/web\n  api: {}\n",
        4,
        "apps.web.path",
        "invalid YAML: while parsing a flow sequence (line 3)",
    ),
    ("empty file", "", 1, "apps", "empty"),
    ("comments only", "# nothing yet\n", 1, "apps", "empty"),
    (
        "missing deploy branch",
        ("environments:\n  prod:\n    deploy:\n      target: git\napps: {web: {path: x}}\n"),
        3,
        "environments.prod.deploy.branch",
        "missing required key",
    ),
    ("duplicate key", "apps:\n  web: {path: a}\n  web: {path: b}\n", 3, "apps.web", "duplicate"),
    (
        "bad deploy",
        (
            "environments:\n  prod:\n    deploy:\n      target: git\n      brnch: x\n"
            "apps: {web: {path: x}}\n"
        ),
        5,
        "environments.prod.deploy.brnch",
        "did you mean 'branch'",
    ),
    (
        "bad deploy target",
        ("environments:\n  prod:\n    deploy: {target: flux}\napps: {web: {path: x}}\n"),
        3,
        "environments.prod.deploy.target",
        "not one of",
    ),
    (
        "bad kubernetes version",
        ("environments:\n  prod: {kubernetes_version: latest}\napps: {web: {path: x}}\n"),
        2,
        "environments.prod.kubernetes_version",
        "1.35",
    ),
    (
        "non-string key",
        "environments:\n  on: {}\napps: {web: {path: x}}\n",
        2,
        "environments.on",
        "keys must be strings",
    ),
    ("bad app name", "apps:\n  web/x: {path: x}\n", 2, "apps.web/x", "name"),
    (
        "values on plain",
        "apps:\n  web:\n    renderer: plain\n    path: x\n    values: [v.yaml]\n",
        3,
        "apps.web.renderer",
        "helm",
    ),
    # the old spelling was accepted and ignored; now it is refused, never silently dropped
    (
        "old approvals keys",
        (
            "environments:\n  prod:\n    approvals: {required: 2, teams: [x]}\n"
            "apps: {web: {path: x}}\n"
        ),
        3,
        "environments.prod.approvals.required",
        "unknown key",
    ),
    (
        "approvals without count",
        ("environments:\n  prod:\n    approvals: {groups: [sre]}\napps: {web: {path: x}}\n"),
        3,
        "environments.prod.approvals.count",
        "missing",
    ),
]


@pytest.mark.parametrize("text,line,key,reason", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_config_names_file_line_and_key(text: str, line: int, key: str, reason: str) -> None:
    err = error_of(text)
    assert (err.file, err.line, err.key) == ("repo/.gitops-bot.yaml", line, key)
    assert str(err).startswith(f"repo/.gitops-bot.yaml:{line}: {key}: ")
    assert reason in err.reason


def test_values_on_detected_plain_app_fail_at_expansion_with_line() -> None:
    config = parse_repo_config("apps:\n  web:\n    path: apps/web\n    values: [v.yaml]\n")
    with pytest.raises(ConfigError) as info:
        expand_targets(config, REALISTIC, reader(REALISTIC))
    assert (info.value.file, info.value.line, info.value.key) == (CONFIG_FILE, 4, "apps.web.values")


def test_bytes_must_be_utf8_and_single_document() -> None:
    err = error_of("apps: {web: {path: a}}\n---\napps: {}\n")
    assert err.line == 3 and "one YAML document" in err.reason
    with pytest.raises(ConfigError, match="UTF-8"):
        parse_repo_config(b"apps: {web: {path: \xff}}\n")


def test_first_error_in_document_order_is_reported() -> None:
    err = error_of("apps:\n  b: {path: /abs}\n  a: {pth: x}\n")
    assert (err.line, err.key) == (2, "apps.b.path")


def test_anchors_and_merge_keys_work() -> None:
    config = parse_repo_config(
        "apps:\n  a: &common {path: charts/a, renderer: helm, namespace: x}\n"
        "  b:\n    <<: *common\n    path: charts/b\n"
    )
    assert [(a.name, a.path, a.renderer, a.namespace) for a in config.apps] == [
        ("a", "charts/a", "helm", "x"),
        ("b", "charts/b", "helm", "x"),
    ]


def test_config_without_apps_keeps_settings_and_asks_for_discovery() -> None:
    config = parse_repo_config("environments: {staging: {}}\nvalidation: {skip_kinds: [Foo]}\n")
    assert config.discovered and config.apps == ()
    assert config.environment_names == ("staging",)
    assert config.validation.skip_kinds == ("Foo",)
