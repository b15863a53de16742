"""The namespace the bot runs in is out of reach of app folders (docs/security.md#case-75):
its Secrets hold the forge token and the cluster credentials. The service knows its own
namespace (GITOPS_BOT_NAMESPACE, else the pod's service account namespace) and gives it to
the change policies; a pull request that puts an object there from an app folder fails."""

from __future__ import annotations

from pathlib import Path

from bot.config import Config, own_namespace
from tests.conftest import git
from tests.e2e.loop import REPO, pr_payload, running_loop

CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: web-settings
  namespace: {namespace}
  labels:
    app.kubernetes.io/name: web
data:
  mode: fast
"""


def test_an_app_folder_may_not_put_objects_in_the_bots_namespace(tmp_path: Path) -> None:
    with running_loop(tmp_path, namespace="gitops-bot") as loop:
        heads = {}
        for number, namespace in ((1, "gitops-bot"), (2, "web")):
            branch = f"into-{namespace}"
            git(loop.repo, "checkout", "-q", "-b", branch, "main")
            (loop.repo / "apps/web/settings.yaml").write_text(CONFIGMAP.format(namespace=namespace))
            git(loop.repo, "add", "-A")
            git(loop.repo, "commit", "-qm", f"web: settings in {namespace}")
            git(loop.repo, "checkout", "-q", "main")
            head, base = loop.head(branch), loop.head("main")
            loop.forge.add_pull(
                REPO, number, head_sha=head, base_sha=base, files=["apps/web/settings.yaml"]
            )
            assert loop.deliver("pull_request", pr_payload("opened", head, base, number))[0] == 202
            heads[number] = head
        loop.work()
        denied = loop.comments(1)[-1]["body"]
        assert loop.statuses(heads[1])[-1]["state"] == "failure"
        assert "ConfigMap/web-settings is in the namespace gitops-bot itself runs in" in denied
        # the same object in the app's own namespace is not touched by this rule
        assert "itself runs in" not in loop.comments(2)[-1]["body"]


def test_the_bot_knows_its_namespace_from_its_setting_or_its_pod(tmp_path: Path) -> None:
    mounted = tmp_path / "namespace"
    mounted.write_text("ops-bots\n")
    assert own_namespace(Config(namespace="gitops-bot"), mounted) == "gitops-bot"
    assert own_namespace(Config(), mounted) == "ops-bots"
    assert own_namespace(Config(), tmp_path / "absent") == ""
    assert Config.load({"GITOPS_BOT_NAMESPACE": "team-bots"}).namespace == "team-bots"
