"""What watching a run in the TUI costs training, and how responsive the TUI
stays while it trains.

The demo NER recipe trains for a fixed number of steps (no evaluation until
the end) in the same `workbench run` child process the TUI starts: twice with
nobody watching, and twice launched from the TUI (itself headless at 100x30,
drawing every frame it would draw on a terminal), interleaved: alone, TUI,
TUI, alone. Training throughput is read from
each run's own step events (samples over the training time between the first
and the last logged step), so process start-up and model loading do not count.
While the TUI watches, a timer due every 50 ms records how late it fires: the
delay a key press would wait for the UI thread.

    python benchmarks/tui_overhead.py [--steps 80] [--repeats 2]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "demo-ner.toml"
TICK_S = 0.05


def throughput(run_dir: Path) -> float:
    """Training samples per second between the first and the last step event."""
    from workbench.runs.folder import read_events

    events = read_events(run_dir)
    start = next(e for e in events if e.type == "start")
    steps = [e for e in events if e.type == "step"]
    first, last = steps[0], steps[-1]
    DEVICES.add(f"{start.device} ({start.precision})")
    return (last.step - first.step) * start.batch_size / (last.elapsed_s - first.elapsed_s)


MODEL: list[str] = []  # --model: another encoder folder for the recipe
DEVICES: set[str] = set()  # where the runs trained, from their start events


def overrides(steps: int, runs: Path) -> list[str]:
    return [
        f"train.max_steps={steps}",
        "train.log_every=5",
        "eval.every=steps",
        f"eval.steps={steps}",
        f"output.dir={runs}",
        "output.save_model=false",
        *MODEL,
    ]


def headless(steps: int, runs: Path) -> float:
    """The same child process the TUI launches, with nobody watching."""
    from workbench.runs.launch import LaunchedRun

    run = LaunchedRun(RECIPE, overrides(steps, runs))
    while run.returncode is None:
        time.sleep(1.0)
    run.read_output()
    if run.returncode != 0 or run.run_dir is None:
        raise SystemExit(f"headless run failed: {run.error()}")
    return throughput(run.run_dir)


def with_tui(steps: int, runs: Path) -> tuple[float, list[float], float]:
    """Throughput, timer delays, and the share of one core the TUI process used
    while the run trained."""
    from workbench.tui.app import WorkbenchApp

    delays: list[float] = []
    cpu: list[float] = []

    async def scenario() -> Path:
        app = WorkbenchApp(runs_dir=runs, recipes_dir=ROOT / "recipes")
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause(0.5)
            screen = app.launch(RECIPE, overrides(steps, runs))
            expected = [time.perf_counter() + TICK_S]

            def tick() -> None:
                now = time.perf_counter()
                if screen.state is not None and screen.state.last_step:
                    delays.append(max(0.0, now - expected[0]))
                expected[0] = now + TICK_S

            app.set_interval(TICK_S, tick)
            while screen.state is None or not screen.state.last_step:
                await asyncio.sleep(0.2)
            wall, used = time.perf_counter(), time.process_time()
            while screen.launched.returncode is None or screen.state.end is None:
                await asyncio.sleep(0.2)
            cpu.append((time.process_time() - used) / (time.perf_counter() - wall))
            await pilot.pause(0.5)
            return screen.state.run_dir

    run_dir = asyncio.run(scenario())
    return throughput(run_dir), delays, cpu[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--model", help="model.name for the recipe (default: the recipe's)")
    args = parser.parse_args()
    if args.model:
        MODEL.append(f"model.name={args.model}")
    heads, tuis, delays, shares = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp)
        for i in range(args.repeats):
            order = ("headless", "tui") if i % 2 == 0 else ("tui", "headless")
            for kind in order:
                if kind == "headless":
                    heads.append(headless(args.steps, runs))
                    print(f"headless   {heads[-1]:6.1f} samples/s", flush=True)
                else:
                    value, d, share = with_tui(args.steps, runs)
                    tuis.append(value)
                    delays += d
                    shares.append(share)
                    print(f"TUI        {tuis[-1]:6.1f} samples/s", flush=True)
    ratio = statistics.mean(tuis) / statistics.mean(heads)
    ms = sorted(1000 * d for d in delays)
    p50 = ms[len(ms) // 2]
    p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))]
    print(
        f"\ndemo-ner, {args.steps} steps x {args.repeats} runs each, interleaved; "
        f"device {', '.join(sorted(DEVICES))}"
    )
    print(
        f"throughput with the TUI watching / headless: {ratio:.3f} "
        f"({statistics.mean(tuis):.1f} / {statistics.mean(heads):.1f} samples/s)"
    )
    print(
        f"CPU the TUI process used while watching: {100 * statistics.mean(shares):.1f}% "
        f"of one core (the 50 ms probe timer included)"
    )
    print(
        f"UI timer delay while training ({len(ms)} ticks of {1000 * TICK_S:.0f} ms): "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {ms[-1]:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
