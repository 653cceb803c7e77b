"""How long `workbench predict RUN "one sentence"` takes, as a whole process, and
where the time goes.

Interleaved, ``--repeats`` times each: the run's model loaded in process (the
default), the same model exported to ONNX (`workbench export`, run by ONNX
Runtime; skipped without onnxruntime), and the model served by `workbench serve`
(started once, before timing: `workbench predict` finds it and only sends the
text). Then one `python -X importtime` of the in-process prediction, summed by
top-level package: what a cold start pays for before any text is read.

    python benchmarks/predict_cold_start.py RUN [--repeats 5]
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEXT = "Alice Smith works at Acme Corp in Paris."


def timed(command: list[str]) -> float:
    """Wall seconds of one process, which must succeed."""
    began = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - began


def import_times(run: str) -> list[tuple[str, float]]:
    """Seconds of imports by top-level package (self times summed), largest first."""
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "workbench",
            "predict",
            run,
            TEXT,
            "--no-server",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    totals: collections.Counter = collections.Counter()
    for line in result.stderr.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if found:
            totals[found.group(2).split(".")[0]] += int(found.group(1)) / 1e6
    return totals.most_common()


def serve(run: str) -> subprocess.Popen:
    """`workbench serve RUN` in the background, once it says it is serving."""
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench", "serve", run],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("serving"):
            return process
    raise SystemExit(f"workbench serve {run} did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a run folder (or saved model folder) to predict with")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    workbench = [sys.executable, "-m", "workbench", "predict"]
    with tempfile.TemporaryDirectory() as tmp:
        sides = {"in process": [*workbench, args.run, TEXT, "--no-server"]}
        try:
            import onnxruntime  # noqa: F401

            export = Path(tmp) / "onnx"
            subprocess.run(
                [sys.executable, "-m", "workbench", "export", args.run, "--out", str(export)],
                check=True,
                capture_output=True,
            )
            sides["ONNX export"] = [*workbench, str(export), TEXT]
        except ImportError:
            print("onnxruntime is not installed: the ONNX side is left out")
        server = serve(args.run)
        try:
            sides["served (workbench serve)"] = [*workbench, args.run, TEXT]
            times: dict[str, list[float]] = {side: [] for side in sides}
            for _ in range(args.repeats):
                for side, command in sides.items():
                    times[side].append(timed(command))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    base = statistics.median(times["in process"])
    print(f'`workbench predict RUN "{TEXT}"`, {args.repeats} runs each, interleaved:')
    for side, values in times.items():
        median = statistics.median(values)
        print(
            f"  {side:26s} median {median:5.2f} s (min {min(values):.2f}, max "
            f"{max(values):.2f}); {median / base:.2f}x in process"
        )
    print("\nimports of the in-process prediction, by top-level package (self time):")
    packages = import_times(args.run)
    for package, seconds in packages[:10]:
        print(f"  {package:24s} {seconds:5.2f} s")
    print(f"  {'all':24s} {sum(s for _, s in packages):5.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
