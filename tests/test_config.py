"""Server Config: read once from env/YAML, secrets masked, fail closed
(docs/security.md#no-secret-no-service, docs/security.md#case-7)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot.app import create_app
from bot.config import Config, Secret
from bot.errors import ConfigError
from tests.web.appserver import make_config

ROOT = Path(__file__).resolve().parents[1]
ENV = {
    "GITOPS_BOT_GITHUB_WEBHOOK_SECRET": "hook-secret-value",
    "GITOPS_BOT_GITHUB_TOKEN": "ghp_tokenvalue123456",
    "GITOPS_BOT_REPO_ALLOWLIST": "github.com/acme/*, github.com/other/repo",
    "GITOPS_BOT_DATABASE_URL": "postgresql://bot:db-password@db.internal/bot",
    "GITOPS_BOT_MAX_BODY_BYTES": "1000",
    "GITOPS_BOT_FORK_MODE": "render",
}


def test_load_from_environment() -> None:
    config = Config.load(ENV)
    assert config.github_webhook_secret == Secret("hook-secret-value")
    assert config.repo_allowlist == ("github.com/acme/*", "github.com/other/repo")
    assert (config.max_body_bytes, config.fork_mode) == (1000, "render")
    assert config.github_api_url == "https://api.github.com" and config.github_host == "github.com"
    assert config.clone_url_template == "https://{host}/{owner}/{repo}.git"
    config.check_service()


def test_defaults_put_everything_under_the_data_dir(tmp_path: Path) -> None:
    config = Config.load({"GITOPS_BOT_DATA_DIR": str(tmp_path)})
    assert config.database == f"sqlite:///{tmp_path}/gitops-bot.db"
    assert config.queue == f"sqlite:///{tmp_path}/queue.db"
    assert config.max_body_bytes == 25 * 1024 * 1024 and config.fork_mode == "validate"
    assert Config.load({}).data_dir == Path(".gitops-bot-data")


def test_yaml_file_then_environment_over_it(tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text(
        "github_webhook_secret: from-file\nrepo_allowlist: [github.com/a/*]\n"
        "GITOPS_BOT_FORK_MODE: skip\n"
    )
    config = Config.load({"GITOPS_BOT_CONFIG": str(path), "GITOPS_BOT_FORK_MODE": "render"})
    assert config.github_webhook_secret == Secret("from-file")
    assert config.repo_allowlist == ("github.com/a/*",) and config.fork_mode == "render"
    path.write_text("no_such_setting: 1\n")
    with pytest.raises(ConfigError, match="no_such_setting"):
        Config.load({"GITOPS_BOT_CONFIG": str(path)})


@pytest.mark.parametrize(
    "key,value",
    [
        ("GITOPS_BOT_MAX_BODY_BYTES", "lots"),
        ("GITOPS_BOT_MAX_BODY_BYTES", "-1"),
        ("GITOPS_BOT_FORK_MODE", "always"),
        ("GITOPS_BOT_SQLITE_SYNCHRONOUS", "off"),
        ("GITOPS_BOT_JOB_LEASE_SECONDS", "0"),
    ],
)
def test_invalid_values_name_the_variable(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=key):
        Config.load({key: value})


def test_repr_and_str_mask_every_secret() -> None:
    config = Config.load(ENV)
    text = repr(config) + str(config) + f"{config.github_token}"
    for secret in ("hook-secret-value", "ghp_tokenvalue123456", "db-password"):
        assert secret not in text
    assert "postgresql://bot:***@db.internal/bot" in text


def test_allowlist_globs_are_case_insensitive_and_host_bound() -> None:
    config = Config.load(ENV)
    assert config.allows("github.com", "acme/web")
    assert config.allows("github.com", "ACME/Web")
    assert config.allows("github.com", "other/repo")
    assert not config.allows("github.com", "other/repo2")
    assert not config.allows("ghe.example.com", "acme/web")
    assert Config.load({**ENV, "GITOPS_BOT_REPO_ALLOWLIST": "*"}).allows("x", "y/z")


def test_enterprise_hosts() -> None:
    config = Config.load(
        {
            "GITOPS_BOT_GITHUB_API_URL": "https://ghe.example.com/api/v3",
            "GITOPS_BOT_GITLAB_URL": "https://gitlab.example.com",
        }
    )
    assert (config.github_host, config.gitlab_host) == ("ghe.example.com", "gitlab.example.com")


@pytest.mark.parametrize(
    "env,message",
    [
        (
            {"GITOPS_BOT_GITHUB_TOKEN": "t", "GITOPS_BOT_REPO_ALLOWLIST": "*"},
            "GITOPS_BOT_GITHUB_WEBHOOK_SECRET is empty",
        ),
        (
            {
                "GITOPS_BOT_GITLAB_TOKEN": "t",
                "GITOPS_BOT_REPO_ALLOWLIST": "*",
                "GITOPS_BOT_GITHUB_WEBHOOK_SECRET": "s",
            },
            "GITOPS_BOT_GITLAB_WEBHOOK_SECRET is empty",
        ),
        ({"GITOPS_BOT_REPO_ALLOWLIST": "*"}, "no forge is configured"),
        ({"GITOPS_BOT_GITHUB_WEBHOOK_SECRET": "s"}, "GITOPS_BOT_REPO_ALLOWLIST is empty"),
        (
            {
                "GITOPS_BOT_GITHUB_WEBHOOK_SECRET": "s",
                "GITOPS_BOT_REPO_ALLOWLIST": "*",
                "GITOPS_BOT_GITHUB_APP_ID": "12",
            },
            "PRIVATE_KEY_FILE",
        ),
        (
            {"GITOPS_BOT_GITHUB_WEBHOOK_SECRET": "s", "GITOPS_BOT_REPO_ALLOWLIST": "acme/platform"},
            "entry 'acme/platform' names no forge host; write 'github.com/acme/platform'",
        ),
        (
            {
                "GITOPS_BOT_GITLAB_WEBHOOK_SECRET": "s",
                "GITOPS_BOT_GITLAB_URL": "https://git.acme.io",
                "GITOPS_BOT_REPO_ALLOWLIST": "github.com/acme/*,platform/*",
            },
            "entry 'platform/\\*' names no forge host; write 'git.acme.io/platform/\\*'",
        ),
    ],
)
def test_service_refuses_to_start_without_secret_or_scope(
    env: dict[str, str], message: str
) -> None:
    config = Config.load(env)
    with pytest.raises(ConfigError, match=message):
        config.check_service()
    with pytest.raises(ConfigError, match=message):
        create_app(config)


@pytest.mark.parametrize(
    "entry",
    [
        "*",
        "github.com/acme/*",
        "*/acme/platform",
        "127.0.0.1/Codertocat/*",
        "localhost:8443/a/b",
        "gitlab.example.com/group/sub/project",
    ],
)
def test_allowlist_entries_with_a_host_are_accepted(entry: str) -> None:
    Config.load(
        {"GITOPS_BOT_GITHUB_WEBHOOK_SECRET": "s", "GITOPS_BOT_REPO_ALLOWLIST": entry}
    ).check_service()


def test_create_app_refuses_an_empty_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="refusing to accept unsigned"):
        create_app(make_config(tmp_path, github_webhook_secret=Secret("")))


MY_MODULES = [
    "bot/config.py",
    "bot/app.py",
    "bot/store/__init__.py",
    "bot/store/schema.py",
    "bot/store/engine.py",
    "bot/queue.py",
    "bot/services.py",
    "bot/cli/service.py",
    "bot/web/__init__.py",
    "bot/web/hooks.py",
    "bot/web/health.py",
    "bot/migrations/__init__.py",
]


@pytest.mark.parametrize("module", MY_MODULES)
def test_no_environment_reads_outside_config_load(module: str) -> None:
    tree = ast.parse((ROOT / module).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
            assert module == "bot/config.py", f"{module} reads the environment"
    # And nothing at module level calls anything that could (only defs, classes, constants).
    for stmt in tree.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            raise AssertionError(f"{module}:{stmt.lineno} calls code at import time")


def test_github_write_spacing_must_not_be_negative() -> None:
    with pytest.raises(ConfigError, match="GITOPS_BOT_GITHUB_WRITE_SPACING"):
        Config.load({"GITOPS_BOT_GITHUB_WRITE_SPACING": "-1"})
