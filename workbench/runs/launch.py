"""Starting `workbench run` as a child process, and stopping runs.

The TUI trains in a child process rather than a thread: the child writes the
run folder exactly as a headless run does, so one reader serves launched and
attached runs alike; training never competes with drawing for the GIL; a crash
in training (a segfault, CUDA running out of memory) cannot take the interface
down; and quitting the interface leaves the run training, to be attached later.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.runs.folder import RUN_FOLDER_PREFIX, LineSplitter


class LaunchedProcess:
    """A `workbench ...` child process whose console output goes to a log file, not
    a pipe, so the child keeps working when this process exits; ``read_output``
    hands over the lines written since the last call."""

    def __init__(self, argv: list[str], cwd: str | Path | None = None):
        fd, log = tempfile.mkstemp(prefix="workbench-", suffix=".log")
        self.log_path = Path(log)
        # Read through a handle of our own; the name goes at once, so no log is left
        # behind however either process ends.
        self._log = open(self.log_path, encoding="utf-8", errors="replace")  # noqa: SIM115
        command = [sys.executable, "-m", "workbench", *argv]
        # Wide lines: the log pane scrolls sideways rather than showing wrapped tables.
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "COLUMNS": "200",
        }
        with os.fdopen(fd, "w") as out:
            # A session of its own: a Ctrl-C meant for the interface never reaches it.
            self.process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=cwd,
                env=env,
                start_new_session=True,
            )
        self.log_path.unlink(missing_ok=True)
        self._lines = LineSplitter("")
        self.lines: list[str] = []

    def read_output(self) -> list[str]:
        """Console lines written since the last call."""
        done = self.returncode is not None  # asked first: nothing is written after that
        if self._log.closed:
            return []
        lines = self._lines.feed(self._log.read())
        if done:  # the child has exited: flush, and let the file go
            rest = self._lines.rest()
            if rest:
                lines.append(rest)
            self._log.close()
        self.lines.extend(lines)
        return lines

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        """Ask the child to stop (as Ctrl-C does)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)

    def error(self) -> str | None:
        """The child's own error line when it failed."""
        if self.returncode in (None, 0):
            return None
        errors = [line for line in self.lines if line.startswith("error: ")]
        if errors:
            return errors[-1][len("error: ") :]
        tail = [line for line in self.lines if line.strip()]
        return tail[-1] if tail else f"workbench exited with status {self.returncode}"


class LaunchedRun(LaunchedProcess):
    """A `workbench run` child process (of a recipe, or ``resume`` of a run folder)."""

    def __init__(
        self,
        recipe: str | Path | None = None,
        overrides: list[str] | None = None,
        cwd: str | Path | None = None,
        resume: str | Path | None = None,
        devices: int = 1,
    ):
        self.recipe = Path(recipe) if recipe is not None else None
        self.overrides = list(overrides or [])
        what = ["--resume", str(resume)] if resume is not None else [str(self.recipe)]
        argv = ["run", *what, "--plain", "--quiet-reports"]
        if devices > 1:
            argv += ["--devices", str(devices)]
        if self.overrides:
            argv += ["--set", *self.overrides]
        super().__init__(argv, cwd)
        self.run_dir: Path | None = Path(resume) if resume is not None else None

    @property
    def label(self) -> str:
        """What is running: the recipe file, or the run folder being resumed."""
        if self.recipe is not None:
            return self.recipe.name
        return f"{self.run_dir.name if self.run_dir else '?'} (resume)"

    def read_output(self) -> list[str]:
        """Console lines written since the last call; notes the run folder when
        the child announces it."""
        lines = super().read_output()
        for line in lines:
            if self.run_dir is None and line.startswith(RUN_FOLDER_PREFIX):
                self.run_dir = Path(line[len(RUN_FOLDER_PREFIX) :].strip())
        return lines


def distributed_command(devices: int, argv: list[str]) -> list[str]:
    """``workbench ARGV`` in ``devices`` processes on this machine, under torchrun
    (PyTorch's own launcher: rendezvous, one process per GPU, signals passed on)."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={devices}",
        "-m",
        "workbench",
        *argv,
    ]


EXIT_FILE = "WORKBENCH_EXIT_FILE"


def report_exit_code(code: int) -> None:
    """Tell ``run_in_processes`` the status the main process meant (torchrun only
    passes on zero or one)."""
    path = os.environ.get(EXIT_FILE)
    if path and os.environ.get("RANK", "0") == "0":
        Path(path).write_text(str(code))


def run_in_processes(devices: int, argv: list[str]) -> int:
    """Run ``workbench ARGV`` in ``devices`` processes and wait; the exit status is
    the main process's. A Ctrl-C or a SIGTERM here becomes a SIGTERM to every
    training process (torchrun runs in a session of its own and is left to see
    them finish): each checkpoints and stops."""
    import torch

    if torch.cuda.is_available() and devices > torch.cuda.device_count():
        raise WorkbenchError(
            f"--devices {devices}: this machine has {torch.cuda.device_count()} GPU(s)"
        )
    fd, exit_file = tempfile.mkstemp(prefix="workbench-exit-")
    os.close(fd)
    # torchrun kills its processes 30 s after passing a signal on by default: too
    # short for a large model's last checkpoint. Threads: the cores shared out (and
    # torchrun's banner about setting them to 1 spared).
    threads = str(max(1, (os.cpu_count() or 1) // devices))
    env = {
        "TORCH_ELASTIC_SHUTDOWN_TIMEOUT": "600",
        "OMP_NUM_THREADS": threads,
        **os.environ,
        EXIT_FILE: exit_file,
    }
    process = subprocess.Popen(distributed_command(devices, argv), env=env, start_new_session=True)

    def forward(signum, frame):
        # To the training processes themselves: each checkpoints, stops and exits 0,
        # and torchrun ends quietly (signalled, it would end with a traceback).
        import psutil

        try:
            workers = psutil.Process(process.pid).children()
        except psutil.NoSuchProcess:
            return
        if not workers:  # not started yet: torchrun itself then
            process.send_signal(signal.SIGTERM)
        for worker in workers:
            with contextlib.suppress(psutil.NoSuchProcess):  # it ended meanwhile
                worker.send_signal(signal.SIGTERM)

    previous_int = signal.signal(signal.SIGINT, forward)
    previous_term = signal.signal(signal.SIGTERM, forward)
    try:
        code = process.wait()
        reported = Path(exit_file).read_text().strip()
        # torchrun exits 1 after passing a signal on, however cleanly the processes stopped.
        return int(reported) if reported else code
    finally:
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGTERM, previous_term)
        Path(exit_file).unlink(missing_ok=True)
