"""`workbench` in a process that torchrun started, instrumented for tests: it
records which training examples this process trained on, step by step, and can
ask one process to stop after a given step (as a signal to one process would),
or fail in one process at a given step (WORKBENCH_TEST_FAIL=RANK:STEP).

    torchrun --nproc_per_node 2 tests/helpers/dist_driver.py TRACE_DIR STOP_RANK STOP_AFTER run ...
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from workbench.cli import main
from workbench.engine import loop
from workbench.errors import WorkbenchError

trace_dir, stop_rank, stop_after, *argv = sys.argv[1:]
rank = int(os.environ.get("RANK", "0"))
steps: list[list[int]] = []
backward_window = loop.Engine.backward_window
after_step = loop.Engine._after_step


def recording(self, window):
    steps.append(sorted(int(i) for batch in window for i in batch["example"].tolist()))
    return backward_window(self, window)


fail = os.environ.get("WORKBENCH_TEST_FAIL", "")


def stopping(self, end_of_epoch):
    after_step(self, end_of_epoch)
    if rank == int(stop_rank) and self.prepared.state.step == int(stop_after):
        self.stop.set()
    if fail == f"{rank}:{self.prepared.state.step}":
        raise WorkbenchError(f"injected failure at step {self.prepared.state.step}")


loop.Engine.backward_window = recording
loop.Engine._after_step = stopping
try:
    code = main(argv)
finally:
    (Path(trace_dir) / f"rank-{rank}.json").write_text(json.dumps(steps))
sys.exit(code)
