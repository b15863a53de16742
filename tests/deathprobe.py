"""A stand-in for a bot process, run by the crash-hygiene tests and killed with SIGKILL.

python -m tests.deathprobe tool DIR   # runs a tool through bot.proc: `sleep` whose pid
                                      # it writes to DIR/tool.pid first
python -m tests.deathprobe job DIR    # holds a job folder under DIR (bot.scratch),
                                      # writes its path to DIR/job.path, sleeps
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bot import proc, scratch


def main(mode: str, folder: Path) -> None:
    if mode == "tool":
        proc.run(
            [
                "sh",
                "-c",
                f"echo $$ > {folder}/tool.pid.tmp && mv {folder}/tool.pid.tmp "
                f"{folder}/tool.pid && exec sleep 120",
            ],
            env=proc.clean_env(home=folder),
            timeout=300,
        )
    elif mode == "job":
        with scratch.job_dir(folder, "github:probe-1") as path:
            (scratch.mkdtemp("gitops-bot-render-") / "x.yaml").write_text("kind: x\n")
            (folder / "job.path").write_text(str(path))
            time.sleep(120)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
