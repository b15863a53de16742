"""The subprocess wrapper: timeouts kill the group, output is capped, env is clean."""

import errno
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bot import proc
from bot.errors import BudgetExceeded, DiskFull, ToolError, retry_after

ROOT = Path(__file__).resolve().parents[1]


def test_timeout_kills_whole_process_group(tmp_path):
    marker = tmp_path / "child.pid"
    started = time.monotonic()
    with pytest.raises(ToolError) as err:
        proc.run(["sh", "-c", f"sleep 60 & echo $! > {marker}; wait"], timeout=1)
    assert err.value.timed_out
    assert time.monotonic() - started < 5
    child = int(marker.read_text())
    time.sleep(0.2)
    assert not _alive(child), "the tool's child survived the timeout"


def _alive(pid: int) -> bool:
    """Whether `pid` runs: a killed orphan may linger as a zombie until init reaps it, and
    that is not alive."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_output_cap_stops_the_tool():
    with pytest.raises(BudgetExceeded, match="output exceeded"):
        proc.run(["sh", "-c", "yes"], max_output=100_000, timeout=10)


def test_environment_holds_no_secrets(monkeypatch, tmp_path):
    monkeypatch.setenv("GITOPS_BOT_GITHUB_TOKEN", "ghp_secretvalue")
    monkeypatch.setenv("KUBECONFIG", "/root/.kube/config")
    out = proc.run(["env"], env=proc.clean_env(home=tmp_path)).stdout.decode()
    assert "ghp_secretvalue" not in out and "KUBECONFIG" not in out
    assert f"HOME={tmp_path}" in out


def test_argv_string_is_refused() -> None:
    with pytest.raises(TypeError):
        proc.run("echo hi")


def test_nonzero_exit_carries_stderr_tail():
    with pytest.raises(ToolError) as err:
        proc.run(["sh", "-c", "echo boom >&2; exit 3"])
    assert err.value.returncode == 3 and "boom" in err.value.stderr


def test_missing_tool_is_named():
    with pytest.raises(ToolError, match="no-such-tool"):
        proc.run(["no-such-tool-xyz"])


def test_no_network_namespace_has_no_usable_interface():
    if not proc.network_isolation_available():
        pytest.fail("unshare -n is not available on this machine")
    out = proc.run(["cat", "/proc/net/dev"], no_network=True).stdout.decode()
    # Only the loopback device exists in a fresh network namespace.
    devices = [line.split(":")[0].strip() for line in out.splitlines()[2:]]
    assert devices == ["lo"]


def test_a_tool_dies_with_the_bot_even_on_kill_9(tmp_path: Path) -> None:
    """A render tool left running by a killed worker would go on using memory and CPU (and
    the files of a job that is re-run elsewhere): it gets a parent-death signal."""
    bot = subprocess.Popen(
        [sys.executable, "-m", "tests.deathprobe", "tool", str(tmp_path)], cwd=ROOT
    )
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "tool.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        tool = int((tmp_path / "tool.pid").read_text())
        assert _alive(tool)
    finally:
        bot.kill()
        bot.wait(10)
    deadline = time.monotonic() + 5
    while _alive(tool) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(tool)


def test_a_pipe_outlives_the_thread_that_opened_it(tmp_path: Path) -> None:
    """The parent-death signal follows the thread that forked: tools are started from one
    long-lived thread, so a pipe opened in a pool thread keeps working after it ends."""
    opened: list[proc.Pipe] = []
    thread = threading.Thread(target=lambda: opened.append(proc.Pipe(["cat"], cwd=tmp_path)))
    thread.start()
    thread.join()
    with opened[0] as pipe:
        assert pipe.request(b"still here", timeout=5) == b"still here"


def test_a_tool_failing_for_a_full_disk_is_a_retry_not_a_finding() -> None:
    """A tool that ran out of space on the bot's disk says nothing about the change: the
    job is retried later instead of failing the review."""
    with pytest.raises(DiskFull) as err:
        proc.run(["sh", "-c", "echo 'fatal: write error: No space left on device' >&2; exit 128"])
    assert retry_after(err.value) == 60.0
    assert retry_after(OSError(errno.ENOSPC, "No space left on device")) == 60.0
    assert retry_after(OSError(errno.EACCES, "Permission denied")) is None
