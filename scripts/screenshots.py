"""Regenerate the SVG screenshots of every TUI screen into screenshots/.

    python scripts/screenshots.py [--runs runs] [--graph graph.sqlite] [--size 100x30]

The pictures show real content: runs of the bundled demo recipes (trained
first when the runs folder has none: about four minutes on two CPU cores), a
run in progress (the first half of a real run's events, replayed into a staging
folder), a comparison of two demo-ner runs, and real predictions (Chinese too); and, when
the graph file exists (``workbench kg build``), the Graph screen: statistics,
an inferred relation and why, a question answered, the merge review list,
the entity with the most mentions, and a path from it to the second; and the
Annotate screen on the demo corpus.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from workbench.runs.events import Checkpoint, End, Status
from workbench.runs.folder import read_events
from workbench.runs.follow import load_state

ROOT = Path(__file__).resolve().parents[1]
SENTENCE = "Maria Lindqvist joined Kestrel Analytics in Porto to launch the Nimbus X2."
REVIEW = "The battery is fine but the screen scratches far too easily."
# A company, a person and a product of the demo's kind, a date and a city, no spaces.
CHINESE = "2024年3月，蓝海电子的首席执行官张伟在杭州发布了新款星火耳机。"
MARKED = (
    "[[Maria Lindqvist|PER]], who lives in [[Porto|LOC]], joined [[Kestrel Analytics|ORG]], "
    "the maker of the [[Nimbus X2|PRODUCT]]."
)


def runs_of(runs: Path, recipe: str, overrides: dict | None = None) -> list[Path]:
    """Completed runs of ``recipe`` (newest first) whose recipe has ``overrides``."""
    found = []
    # This recipe's runs only: "demo-ner" is not "demo-ner-zh" (a clash adds "-2").
    name = re.compile(rf"\d{{8}}-\d{{6}}-{re.escape(recipe)}(-\d+)?")
    for folder in sorted(runs.glob(f"*-{recipe}*"), reverse=True):
        if not name.fullmatch(folder.name) or not (folder / "model").is_dir():
            continue
        state = load_state(folder)
        if state.status != Status.COMPLETED:
            continue
        train = state.recipe_values.get("train", {})
        if all(train.get(k.split(".")[1]) == v for k, v in (overrides or {}).items()):
            found.append(folder)
    return found


def ensure_run(runs: Path, recipe: str, overrides: dict | None = None) -> Path:
    """A completed run of ``recipe`` with ``overrides`` (trained now if there is none)."""
    existing = runs_of(runs, recipe, overrides)
    if existing:
        return existing[0]
    sets = [f"{k}={v}" for k, v in (overrides or {}).items() if v is not None]
    sets.append(f"output.dir={runs}")
    print(f"training {recipe} {' '.join(sets)} for the screenshots…", flush=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "workbench",
            "run",
            str(ROOT / "recipes" / f"{recipe}.toml"),
            "--plain",
            "--quiet-reports",
            "--set",
            *sets,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return runs_of(runs, recipe, overrides)[0]


SWEEP_PARAMS = ["train.learning_rate=loguniform(1e-5, 1e-3)", "train.batch_size=choice(16, 32)"]


def ensure_sweep(runs: Path) -> Path:
    """A finished sweep of demo-sentiment under ``runs/sweeps`` (run now if there is
    none: about four minutes on two CPU cores)."""
    from workbench.sweeps.study import open_sweep, sweep_folders

    for folder in sweep_folders(runs / "sweeps"):
        rows = open_sweep(folder).trials()
        if (
            folder.name.endswith("demo-sentiment")
            and sum(r.state == "completed" for r in rows) >= 4
        ):
            return folder
    print("sweeping demo-sentiment for the screenshots…", flush=True)
    subprocess.run(
        [
            sys.executable, "-m", "workbench", "sweep",
            str(ROOT / "recipes" / "demo-sentiment.toml"),
            *[x for p in SWEEP_PARAMS for x in ("--param", p)],
            "--trials", "8", "--seed", "0", "--dir", str(runs / "sweeps"),
            "--set", "train.epochs=2", "eval.every=steps", "eval.steps=20",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return sweep_folders(runs / "sweeps")[0]


def stage_live(source: Path, target: Path) -> None:
    """Replay the events of ``source`` up to its second evaluation into ``target``,
    as written by this process: the TUI shows it as a run in progress."""
    target.mkdir(parents=True)
    kept, evals = [], 0
    for event in read_events(source):
        if event.type == "eval":
            evals += 1
        if event.type == "end" or (event.type == "eval" and evals > 2):
            break
        if event.type == "created":
            event.pid = os.getpid()
        kept.append(event)
    steps = [e for e in kept if e.type == "step"]
    cut = kept.index(steps[int(len(steps) * 0.85)]) + 1  # a little after the 2nd eval
    (target / "events.jsonl").write_text(
        "".join(json.dumps(e.to_dict()) + "\n" for e in kept[:cut])
    )


def stage_stopped(source: Path, target: Path) -> None:
    """Replay the events of ``source`` up to a little after its first evaluation,
    then a checkpoint and a stop, into ``target``: the TUI shows a run that was
    stopped (Ctrl-C, SIGTERM) and can resume."""
    target.mkdir(parents=True)
    kept: list = []
    evals = 0
    for event in read_events(source):
        if event.type == "end":
            break
        if event.type == "eval":
            evals += 1
        kept.append(event)
        if evals and event.type == "step" and event.step % 10 == 0:
            break
    step, last = kept[-1].step, kept[-1].time
    kept += [
        Checkpoint(
            time=last + 1, step=step, path=f"checkpoints/step-{step}", kept=[f"step-{step}"]
        ),
        End(
            time=last + 2,
            status=Status.STOPPED.value,
            steps=step,
            metric=next(e.metric for e in kept if e.type == "start"),
            best_value=next(e.best_value for e in reversed(kept) if e.type == "eval"),
            best_step=next(e.best_step for e in reversed(kept) if e.type == "eval"),
            checkpoint=f"checkpoints/step-{step}",
            duration_s=last - kept[0].time,
        ),
    ]
    (target / "events.jsonl").write_text("".join(json.dumps(e.to_dict()) + "\n" for e in kept))


async def until(pilot, done, seconds: float = 120) -> None:
    """Let the app run until ``done()`` holds (or ``seconds`` pass: the picture
    then shows what there is)."""
    for _ in range(int(seconds * 10)):
        if done():
            return
        await pilot.pause(0.1)


async def shoot(app, out: Path, size: tuple[int, int], steps) -> None:
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.5)
        for name, action in steps:
            await action(pilot)
            await pilot.pause(0.6)
            app.save_screenshot(filename=f"{name}.svg", path=str(out))
            print(f"screenshots/{name}.svg", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs",
        default=str(ROOT / "runs"),
        help="where demo runs are found or trained (default: runs/)",
    )
    parser.add_argument(
        "--graph",
        default=str(ROOT / "graph.sqlite"),
        help="knowledge graph for the Graph screen pictures (skipped when "
        "missing; default: graph.sqlite)",
    )
    parser.add_argument("--size", default="100x30", help="terminal size, WIDTHxHEIGHT")
    parser.add_argument("--out", default=str(ROOT / "screenshots"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    width, height = (int(v) for v in args.size.lower().split("x"))
    runs = Path(args.runs).resolve()
    graph = Path(args.graph).resolve()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)

    # The recipes' own settings, named so that a shortened run is never picked.
    whole = {"train.epochs": 3, "train.max_steps": None}
    ner = ensure_run(runs, "demo-ner", {"train.learning_rate": 1e-4, **whole})
    ner_slow = ensure_run(runs, "demo-ner", {"train.learning_rate": 3e-5, **whole})
    sentiment = ensure_run(runs, "demo-sentiment", whole)
    relations = ensure_run(runs, "demo-relations", whole)
    lora = ensure_run(runs, "demo-ner-lora", whole)
    chinese = ensure_run(runs, "demo-ner-zh", {"train.epochs": 4, "train.max_steps": None})
    sweep = ensure_sweep(runs)

    from workbench.tui.app import WorkbenchApp

    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        # A project folder as a user has it: recipes/ and runs/ side by side.
        os.symlink(ROOT / "recipes", project / "recipes")
        os.symlink(ROOT / "data", project / "data")
        (project / "runs").mkdir()
        for run in (ner, ner_slow, sentiment, relations, lora, chinese):
            os.symlink(run, project / "runs" / run.name)
        (project / "runs" / "sweeps").mkdir()
        os.symlink(sweep, project / "runs" / "sweeps" / sweep.name)
        # A queue of the picture's own: two runs waiting (no scheduler).
        os.environ["WORKBENCH_QUEUE"] = str(project / "queue")
        from workbench.runs.queue import Queue

        queue = Queue.open()
        for seed in (1, 2):
            queue.add_run(Path("recipes/demo-ner.toml"), [f"train.seed={seed}"], project)
        if graph.is_file():  # copied: SQLite writes its -wal/-shm files beside the name it opens
            shutil.copyfile(graph, project / "graph.sqlite")
        live_name = f"{ner.name[:9]}235959-demo-ner"  # sorts first
        stage_live(ner, project / "runs" / live_name)
        stopped_name = f"{ner.name[:9]}000000-demo-ner"  # sorts last
        stage_stopped(ner_slow, project / "runs" / stopped_name)
        os.chdir(project)

        async def press(*keys):
            async def action(pilot):
                await pilot.press(*keys)

            return action

        async def open_run(path):
            async def action(pilot):
                pilot.app.open_run(Path("runs") / path)
                await pilot.pause(1.5)

            return action

        async def predict(run: Path, text: str):
            async def action(pilot):
                pilot.app.open_predict(Path("runs") / run.name)
                screen = pilot.app.screen
                await until(
                    pilot,
                    lambda: screen.loaded is not None and screen.loaded_from.name == run.name,
                )
                await pilot.click("#predict-input")
                if text.isascii():
                    await pilot.press("ctrl+l", *text)
                else:  # typed as an input method would hand it over: whole
                    screen.query_one("#predict-input").value = text
                await pilot.pause(2.0)
                await pilot.press("escape")

            return action

        async def run_all():
            app = WorkbenchApp(runs_dir="runs", recipes_dir="recipes")
            steps = [
                ("recipes", await press()),  # it starts on a recipe that runs here
                ("run-live", await open_run(live_name)),
                ("stop-confirm", await press("s")),
            ]
            await shoot(app, out, (width, height), steps)
            app = WorkbenchApp(runs_dir="runs", recipes_dir="recipes")
            steps = [
                ("run-finished-ner", await open_run(ner.name)),
                ("run-finished-sentiment", await open_run(sentiment.name)),
                ("run-finished-lora", await open_run(lora.name)),
            ]
            await shoot(app, out, (width, height), steps)
            app = WorkbenchApp(runs_dir="runs", recipes_dir="recipes")
            names = sorted(
                [
                    live_name,
                    ner.name,
                    ner_slow.name,
                    sentiment.name,
                    relations.name,
                    lora.name,
                    chinese.name,
                    stopped_name,
                ],
                reverse=True,
            )
            down_to = sorted([names.index(ner.name), names.index(ner_slow.name)])
            keys = (
                ["down"] * down_to[0] + ["space"] + ["down"] * (down_to[1] - down_to[0]) + ["space"]
            )
            steps = [
                ("runs", await press("2", *keys)),
                ("compare", await press("c")),
            ]
            await shoot(app, out, (width, height), steps)
            app = WorkbenchApp(runs_dir="runs", recipes_dir="recipes")
            steps = [
                ("runs-resumable", await press("2", *["down"] * names.index(stopped_name))),
                ("resume-confirm", await press("r")),
            ]
            await shoot(app, out, (width, height), steps)
            app = WorkbenchApp(runs_dir="runs", recipes_dir="recipes")
            steps = [
                ("predict-ner", await predict(ner, SENTENCE)),
                ("predict-sentiment", await predict(sentiment, REVIEW)),
                ("predict-relations", await predict(relations, MARKED)),
                ("predict-ner-zh", await predict(chinese, CHINESE)),
            ]
            await shoot(app, out, (width, height), steps)
            app = WorkbenchApp(runs_dir="runs", recipes_dir="recipes")
            await shoot(app, out, (width, height), [("sweeps", await press("6"))])

        async def annotate_screen():
            async def deciding(pilot):
                screen = pilot.app.screen
                await until(pilot, lambda: screen.session is not None)
                # One accepted; the next one's first two words selected, about to be labelled.
                await pilot.press("enter", "shift+right")

            app = WorkbenchApp(
                runs_dir="runs",
                recipes_dir="recipes",
                annotate={
                    "model": f"runs/{ner_slow.name}",  # the less trained one errs more
                    "corpus": "data/demo/corpus",
                    "out": "annotations/demo-ner.jsonl",
                },
            )
            await shoot(app, out, (width, height), [("annotate", deciding)])

            async def pair(pilot):
                screen = pilot.app.screen
                await until(pilot, lambda: screen.session is not None)

            app = WorkbenchApp(
                runs_dir="runs",
                recipes_dir="recipes",
                annotate={
                    "model": f"runs/{relations.name}",
                    "corpus": "data/demo/relations/test.jsonl",  # entities given
                    "out": "annotations/demo-relations.jsonl",
                },
            )
            steps = [("annotate-relations", pair), ("annotate-labels", await press("l", "b"))]
            await shoot(app, out, (width, height), steps)

        async def graph_screens():
            from workbench.kg.store import Graph

            with Graph.open("graph.sqlite", create=False) as opened:
                top = opened.queries.stats()["top_entities"]
                if not top:
                    print(f"{graph} has no entities: no Graph screen pictures", flush=True)
                    return
                # A chain of more than one relation shows more than the entity's tree does.
                near = {n["other"]["id"] for n in opened.queries.neighbours(top[0]["id"])}
                far = [e for e in top[1:] if e["id"] not in near] or top[1:]
                # Reasoning's proposals, in this copy of the graph, for their picture.
                from workbench.kg.infer import run_inference

                run_inference(opened)
                proposals = opened.decisions.inferred(limit=1)

            async def inferred(pilot):
                screen = pilot.app.screen
                head = proposals[0]["head"]["id"]
                screen.show_entity(head)
                await until(pilot, lambda: screen.current == head, seconds=10)
                tree = screen.query_one("#entity-tree")
                tree.focus()
                leaf = next(n for n in tree.root.children[-1].children)
                tree.move_cursor(leaf)
                await pilot.pause(0.5)

            async def ask(pilot):
                screen = pilot.app.screen
                await pilot.press("escape", "question_mark")
                # Three relations, each step with its evidence sentences.
                question = "In which country is the company Chloe Haddad founded based?"
                await pilot.press(*question, "enter")
                answer = screen.query_one("#answer")
                await until(pilot, lambda: "Portugal" in str(answer.content), seconds=90)

            async def merges(pilot):
                screen = pilot.app.screen
                await pilot.press("escape", "m")
                listing = screen.query_one("#merge-list")
                await until(pilot, lambda: listing.option_count > 0, seconds=30)

            async def entity(pilot):
                await pilot.press(*top[0]["name"])
                await pilot.pause(1.0)  # the search, as typed
                screen = pilot.app.screen
                screen.show_entity(top[0]["id"])
                await until(pilot, lambda: screen.current == top[0]["id"], seconds=10)
                screen.query_one("#entity-tree").focus()

            app = WorkbenchApp(runs_dir="runs", recipes_dir="recipes", graph_path="graph.sqlite")
            steps = [("graph", await press("4")), ("graph-entity", entity)]
            if far:
                steps.append(("graph-path", await press("p", *far[0]["name"], "enter")))
            if proposals:
                steps.append(("graph-inferred", inferred))
            steps += [("graph-ask", ask), ("graph-merges", merges)]
            await shoot(app, out, (width, height), steps)

        asyncio.run(run_all())
        asyncio.run(annotate_screen())
        if graph.is_file():
            asyncio.run(graph_screens())
        else:
            print(
                f"no graph at {graph}: no Graph screen pictures (workbench kg build makes one)",
                flush=True,
            )
        os.chdir(ROOT)
    shutil.rmtree(out / "__pycache__", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
