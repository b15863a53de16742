"""The only subprocess wrapper: argv lists, clean environment, timeout, output cap.

Every external tool (helm, kubectl, git, kubeconform) runs through `run`. The child gets
its own process group so a timeout kills everything it started, an environment with
only allowlisted variables (no forge tokens, no kubeconfig, no cloud keys), and its
output is capped while it is read, not after. It also gets a parent-death signal
(util-linux `setpriv --pdeathsig KILL`): when the bot dies, even by `kill -9`, the tool
dies with it instead of running on (docs/security.md#case-109).
"""

from __future__ import annotations

import functools
import logging
import os
import select
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bot import faults
from bot.errors import BudgetExceeded, DiskFull, ToolError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024
STDERR_TAIL = 4000
# Variables a tool may inherit; everything else (tokens, KUBECONFIG, AWS_*, ...) is dropped.
SAFE_ENV = ("LANG", "LC_ALL", "TZ")
_NO_SPACE = os.strerror(28)  # "No space left on device" (ENOSPC), as tools print it


@dataclass(frozen=True)
class Completed:
    """A finished process: exit code, captured output, wall time in seconds."""

    argv: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes
    seconds: float

    @property
    def stderr_tail(self) -> str:
        return self.stderr.decode("utf-8", "replace")[-STDERR_TAIL:]


def clean_env(
    home: str | os.PathLike[str],
    path_dirs: Sequence[str] = (),
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A minimal environment: PATH, HOME (a private dir) and the allowlisted locale vars."""
    env = {k: os.environ[k] for k in SAFE_ENV if k in os.environ}
    env["PATH"] = os.pathsep.join([*path_dirs, "/usr/local/bin", "/usr/bin", "/bin"])
    env["HOME"] = os.fspath(home)
    env.update(extra or {})
    return env


# Linux sends the parent-death signal when the *thread* that forked the child ends, so
# every child is started from this one thread, which lives as long as the process.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gitops-bot-spawn")


@functools.cache
def _death_signal() -> tuple[str, ...]:
    """The argv prefix that gives a child SIGKILL when the bot dies ((): not available)."""
    setpriv = shutil.which("setpriv")
    if not setpriv:
        log.warning("setpriv not found: tools may outlive a killed bot")
        return ()
    argv = (setpriv, "--pdeathsig", "KILL", "--")
    try:
        works = subprocess.run([*argv, "true"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.SubprocessError):
        works = False
    return argv if works else ()


_spawned = [0]  # processes started by this process (`spawn_count`)


def spawn_count() -> int:
    """How many tool processes this process has started so far (tests count them)."""
    return _spawned[0]


def _spawn(args: Sequence[str], env: Mapping[str, str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """Popen from the spawner thread, with the parent-death signal. FileNotFoundError when
    the program is not found (looked up in `env`'s PATH, as Popen itself would)."""
    if not shutil.which(args[0], path=env.get("PATH", os.defpath)):
        raise FileNotFoundError(2, "No such file or directory", args[0])
    _spawned[0] += 1

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen([*_death_signal(), *args], env=dict(env), **kwargs)

    return _SPAWNER.submit(start).result()


@functools.cache
def network_isolation_available() -> bool:
    """True when `unshare -n` can give a child an empty network namespace here."""
    unshare = shutil.which("unshare")
    if not unshare:
        return False
    try:
        return (
            subprocess.run([unshare, "-n", "true"], capture_output=True, timeout=5).returncode == 0
        )
    except (OSError, subprocess.SubprocessError):
        return False


def _pump(stream: IO[bytes], sink: bytearray, cap: int, over: threading.Event) -> None:
    while chunk := stream.read(65536):
        if len(sink) + len(chunk) > cap:
            over.set()
            sink.extend(chunk[: max(0, cap - len(sink))])
            return
        sink.extend(chunk)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_output: int = DEFAULT_MAX_OUTPUT,
    stdin: bytes | None = None,
    no_network: bool = False,
    check: bool = True,
) -> Completed:
    """Run `argv` (a list, never a shell string) and return its output.

    Raises ToolError when the tool is missing, exits non-zero (if `check`) or times out,
    and BudgetExceeded when stdout or stderr grows past `max_output` bytes. With
    `no_network`, the child runs in a new network namespace where only a down loopback
    exists (when the machine allows it).
    """
    if isinstance(argv, (str, bytes)):
        raise TypeError("argv must be a list of arguments, not a string")
    tool = [os.fspath(a) for a in argv]
    args = ["unshare", "-n", "--", *tool] if no_network and network_isolation_available() else tool
    if env is None:
        env = clean_env(home=cwd or "/nonexistent")
    started = time.monotonic()
    log.debug("run %s (cwd=%s)", args, cwd)
    try:
        proc = _spawn(
            args,
            env,
            cwd=cwd,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            close_fds=True,
        )
    except FileNotFoundError as exc:
        raise ToolError(f"{Path(args[0]).name}: not found ({exc.filename})", argv=args) from exc
    out, err = bytearray(), bytearray()
    over = threading.Event()
    assert proc.stdout is not None and proc.stderr is not None
    name = Path(tool[0]).name
    readers = [
        threading.Thread(target=_pump, args=(proc.stdout, out, max_output, over), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, err, max_output, over), daemon=True),
    ]
    for t in readers:
        t.start()
    faults.point(f"run:{name} {tool[1] if len(tool) > 1 else ''}".rstrip())
    if stdin is not None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(stdin)
            proc.stdin.close()
        except BrokenPipeError:
            pass
    deadline = started + timeout
    timed_out = False
    # The readers return at end of output or when the cap is hit, so joining them wakes us
    # exactly when there is something to do (no polling latency on short commands).
    for t in readers:
        t.join(timeout=max(0.0, deadline - time.monotonic()))
        if over.is_set() or t.is_alive():
            break
    try:
        if not over.is_set():
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    if over.is_set() or proc.poll() is None:
        timed_out = not over.is_set()
        _kill_group(proc)
        proc.wait()
    _kill_group(proc)  # reap anything the tool left running in its group
    for t in readers:
        t.join(timeout=5)
    seconds = time.monotonic() - started
    if over.is_set():
        raise BudgetExceeded(f"{name}: output exceeded {max_output} bytes; stopped")
    if timed_out:
        raise ToolError(
            f"{name}: timed out after {timeout:g}s and was killed",
            argv=args,
            stderr=bytes(err).decode("utf-8", "replace")[-STDERR_TAIL:],
            timed_out=True,
        )
    done = Completed(tuple(args), proc.returncode, bytes(out), bytes(err), seconds)
    if proc.returncode != 0 and _NO_SPACE in done.stderr_tail:
        raise DiskFull(f"{name}: no space left on the bot's disk")
    if check and proc.returncode != 0:
        raise ToolError(
            f"{name} exited with code {proc.returncode}",
            argv=args,
            returncode=proc.returncode,
            stderr=done.stderr_tail,
        )
    return done


class Pipe:
    """A long-lived tool speaking a line protocol on stdin/stdout (`git cat-file --batch`).

    Same rules as `run`: argv list, clean environment, own process group, optional empty
    network namespace; `close()` kills the group. stderr is kept (capped) for error
    messages. Use as a context manager.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        no_network: bool = False,
    ) -> None:
        if isinstance(argv, (str, bytes)):
            raise TypeError("argv must be a list of arguments, not a string")
        self.argv = [os.fspath(a) for a in argv]
        args = self.argv
        if no_network and network_isolation_available():
            args = ["unshare", "-n", "--", *args]
        try:
            self.proc = _spawn(
                args,
                env if env is not None else clean_env(home=cwd or "/nonexistent"),
                cwd=cwd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                close_fds=True,
            )
        except FileNotFoundError as exc:
            raise ToolError(f"{Path(self.argv[0]).name}: not found", argv=self.argv) from exc
        assert self.proc.stdin is not None and self.proc.stdout is not None
        assert self.proc.stderr is not None
        self.stdin: IO[bytes] = self.proc.stdin
        self.stdout: IO[bytes] = self.proc.stdout
        self._err = bytearray()
        self._err_over = threading.Event()
        self._err_reader = threading.Thread(
            target=_pump,
            args=(self.proc.stderr, self._err, STDERR_TAIL * 4, self._err_over),
            daemon=True,
        )
        self._err_reader.start()
        self._pending = b""

    @property
    def stderr_tail(self) -> str:
        """The last part of what the tool wrote to stderr so far."""
        return bytes(self._err).decode("utf-8", "replace")[-STDERR_TAIL:]

    def request(self, line: bytes, *, timeout: float, max_line: int = DEFAULT_MAX_OUTPUT) -> bytes:
        """Send one line, return the next line of output (without its newline).

        Raises ToolError when the tool exits or answers nothing within `timeout` seconds
        (the tool is then killed) and BudgetExceeded when the answer is longer than
        `max_line` bytes.
        """
        name = Path(self.argv[0]).name
        try:
            self.stdin.write(line if line.endswith(b"\n") else line + b"\n")
            self.stdin.flush()
        except (BrokenPipeError, ValueError):
            self.close()
            raise ToolError(
                f"{name} exited before the request",
                argv=self.argv,
                returncode=self.proc.returncode,
                stderr=self.stderr_tail,
            ) from None
        deadline = time.monotonic() + timeout
        fd = self.stdout.fileno()
        buffer = bytearray(self._pending)
        while b"\n" not in buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], left) if left > 0 else ([], [], [])
            if not ready:
                self.close()
                raise ToolError(
                    f"{name}: no answer within {timeout:g}s; killed",
                    argv=self.argv,
                    stderr=self.stderr_tail,
                    timed_out=True,
                )
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                self.close()
                raise ToolError(
                    f"{name} exited with code {self.proc.returncode}",
                    argv=self.argv,
                    returncode=self.proc.returncode,
                    stderr=self.stderr_tail,
                )
            buffer.extend(chunk)
            if len(buffer) > max_line and b"\n" not in buffer:
                self.close()
                raise BudgetExceeded(f"{name}: answer exceeded {max_line} bytes; stopped")
        answer, _, rest = bytes(buffer).partition(b"\n")
        self._pending = rest
        return answer

    def close(self) -> None:
        """Stop the tool and everything it started."""
        try:
            self.stdin.close()
        except OSError:
            pass
        _kill_group(self.proc)
        self.proc.wait()
        self.stdout.close()
        self._err_reader.join(timeout=5)

    def __enter__(self) -> Pipe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
