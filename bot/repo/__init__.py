"""The repository side: `.gitops-bot.yaml` (`repo_config`, its YAML positions `config_yaml`),
safe YAML loading (`safeyaml`), app discovery, kustomize references and review targets.

PURE: no I/O; files are read through a `read(path) -> bytes | None` callable.
"""
