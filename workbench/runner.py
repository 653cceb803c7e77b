"""Running an experiment end to end: the run folder, the event log, the engine,
the final reports and the end event. A run always ends with an end event that
says completed, stopped or failed."""

from __future__ import annotations

import os
import socket
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from workbench.errors import WorkbenchError
from workbench.experiment import Experiment
from workbench.reports import reports_text
from workbench.runs.files import write_json_atomic, write_text_atomic
from workbench.runs.folder import RECIPE, REPORT_JSON, REPORT_TEXT, EventLog, create_run_dir, now

View = Callable[[dict[str, Any]], None]


class FanOut:
    """Sends each event to the log first, then to every view. A view that
    raises is dropped, so a broken display never stops training."""

    def __init__(self, log: EventLog, views: list[View], run_dir: Path):
        self.log, self.views, self.run = log, list(views), run_dir.name

    def __call__(self, event: dict[str, Any]) -> None:
        event.setdefault("run", self.run)
        self.log(event)
        for view in list(self.views):
            try:
                view(event)
            except Exception:  # noqa: BLE001 - a view must not take training down
                self.views.remove(view)


def run_experiment(experiment: Experiment, views: list[View] | None = None,
                   stop: threading.Event | None = None) -> tuple[Path, dict[str, Any]]:
    """Train ``experiment`` into a new run folder; return the folder and the end event."""
    from workbench.engine.loop import Engine

    recipe = experiment.recipe
    run_dir = create_run_dir(recipe["output"]["dir"], recipe.name)
    write_text_atomic(run_dir / RECIPE, recipe.to_toml())
    log = EventLog(run_dir)
    emit = FanOut(log, views or [], run_dir)
    emit({"type": "created", "time": now(), "path": str(run_dir), "pid": os.getpid(),
          "host": socket.gethostname(), "recipe_path": str(recipe.source or ""),
          "overrides": recipe.overrides, "recipe_values": recipe.to_dict()})
    started = time.perf_counter()
    end: dict[str, Any] = {"type": "end", "status": "failed"}
    try:
        result = Engine(experiment, emit, run_dir=run_dir, stop=stop).run()
        if result.reports:
            write_json_atomic(run_dir / REPORT_JSON, {
                "recipe": recipe.name, "task": experiment.task.name, "metric": result.best_metric,
                "best_value": result.best_value, "best_step": result.best_step,
                "reports": result.reports})
            write_text_atomic(run_dir / REPORT_TEXT, reports_text(
                result.reports, header=f"{recipe.name} ({experiment.task.name}) - {run_dir.name}"))
        end.update(status=result.status, steps=result.steps, metric=result.best_metric,
                   best_value=result.best_value, best_step=result.best_step,
                   model_saved=result.model_saved, early_stopped=result.early_stopped,
                   test=result.reports.get("test", {}).get("metrics"))
    except KeyboardInterrupt:
        end.update(status="stopped", error="interrupted")
    except WorkbenchError as exc:
        end.update(status="failed", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - recorded in the end event, re-raised by nobody
        end.update(status="failed", error=f"{type(exc).__name__}: {exc}",
                   traceback=traceback.format_exc())
    finally:
        end.update(time=now(), duration_s=time.perf_counter() - started)
        emit(end)
        log.close()
    return run_dir, end
