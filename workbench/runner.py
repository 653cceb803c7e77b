"""Running an experiment end to end: the run folder, the event log, the engine,
the final reports and the end event. A run always ends with an end event that
says completed, stopped or failed.

With several processes (torchrun, accelerate launch) every process runs this;
only the main one creates the folder, holds its lock and writes events,
reports and console output; the others learn the folder from it.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.experiment import Experiment
from workbench.reports import reports_text
from workbench.resume import ResumePoint
from workbench.runs.events import Created, End, Event, Start, Status
from workbench.runs.files import write_json_atomic, write_text_atomic
from workbench.runs.folder import (
    RECIPE,
    REPORT_JSON,
    REPORT_TEXT,
    EventLog,
    RunLock,
    create_run_dir,
    latest_checkpoint,
    tidy_run_folder,
)

View = Callable[[Event], None]


class FanOut:
    """Sends each event to the log first, then to every view. A view that
    raises is dropped, so a broken display never stops training; a log that
    cannot be written (a full disk) is remembered, and the views still hear."""

    def __init__(self, log: EventLog, views: Sequence[View], run_dir: Path):
        self.log, self.views, self.run = log, list(views), run_dir.name
        self.log_error: OSError | None = None

    def __call__(self, event: Event) -> None:
        if event.run is None:
            event.run = self.run
        try:
            self.log(event)
        except OSError as exc:
            self.log_error = self.log_error or exc
        for view in list(self.views):
            try:
                view(event)
            except Exception:  # noqa: BLE001 - a view must not take training down
                self.views.remove(view)


def _open_run_folder(
    experiment: Experiment, resume: ResumePoint | None, main: bool
) -> tuple[Path, RunLock | None, EventLog | None]:
    """The main process makes (or reopens) the folder, takes its lock and opens
    its event log; every process gets the folder, or the same one-line error."""
    from workbench.engine.devices import broadcast

    made: tuple[str | None, str | None] = (None, None)
    lock = log = None
    if main:
        recipe = experiment.recipe
        try:
            run_dir = resume.run_dir if resume else create_run_dir(recipe.output.dir, recipe.name)
            lock = RunLock(run_dir)
            if not lock.acquire():
                raise WorkbenchError(
                    f"{run_dir}: another process is writing this run (it "
                    f"holds {lock.path.name}); stop it first"
                )
            if resume is None:
                write_text_atomic(run_dir / RECIPE, recipe.to_toml())
            else:
                tidy_run_folder(run_dir)
                # The reports of how it ended before are not how it ends now (a reader
                # takes report.json's status when the log loses its end).
                for stale in (REPORT_JSON, REPORT_TEXT):
                    (run_dir / stale).unlink(missing_ok=True)
            log = EventLog(run_dir)
            made = (str(run_dir), None)
        except WorkbenchError as exc:
            made = (None, str(exc))
        except OSError as exc:
            made = (
                None,
                f"{exc.filename or recipe.output.dir}: cannot write the run "
                f"folder ({exc.strerror or exc})",
            )
        if made[1] is not None and lock is not None:
            lock.release()
    path, error = broadcast(made)
    if error is not None:
        raise WorkbenchError(error)
    return Path(path), lock, log


def run_experiment(
    experiment: Experiment,
    views: Sequence[View] | None = None,
    stop: threading.Event | None = None,
    resume: ResumePoint | None = None,
    sweep: dict | None = None,
) -> tuple[Path, End]:
    """Train ``experiment`` into a new run folder (or go on with ``resume``'s);
    return the folder and the end event. ``sweep``: the sweep trial this run is, said
    in its start event."""
    from workbench.engine.devices import is_main_process
    from workbench.engine.loop import Engine

    recipe = experiment.recipe
    main = is_main_process()
    run_dir, lock, log = _open_run_folder(experiment, resume, main)
    fanout = None

    def emit(event: Event) -> None:
        if sweep is not None and isinstance(event, Start):
            event.sweep = sweep
        if fanout is not None:
            fanout(event)

    if main:
        assert log is not None and lock is not None  # the main process opened both
        fanout = FanOut(log, views or [], run_dir)
        if resume is None:
            emit(
                Created(
                    path=str(run_dir),
                    pid=os.getpid(),
                    host=socket.gethostname(),
                    recipe_path=str(recipe.source or ""),
                    overrides=recipe.overrides,
                    recipe_values=recipe.to_dict(),
                )
            )
    started = time.perf_counter()
    end = End(status=Status.FAILED.value)
    try:
        if fanout is not None and recipe.output.trackers:  # the main process's
            from workbench.trackers import start_trackers

            # Started once the run folder exists (their files go in it), before training:
            # one that cannot start fails the run with its reason, not a step later.
            fanout.views.extend(start_trackers(recipe, run_dir))
        result = Engine(
            experiment,
            emit,
            run_dir=run_dir,
            stop=stop,
            resume_from=resume.checkpoint if resume else None,
        ).run()
        if main and result.reports:
            write_json_atomic(
                run_dir / REPORT_JSON,
                {
                    # status: a reader whose log lost its end event still knows how it ended
                    "status": result.status.value,
                    "recipe": recipe.name,
                    "task": experiment.task.name,
                    "metric": result.best_metric,
                    "best_value": result.best_value,
                    "best_step": result.best_step,
                    "reports": result.reports,
                },
            )
            write_text_atomic(
                run_dir / REPORT_TEXT,
                reports_text(
                    result.reports,
                    header=f"{recipe.name} ({experiment.task.name}) - {run_dir.name}",
                ),
            )
        end = End(
            status=result.status.value,
            steps=result.steps,
            metric=result.best_metric,
            best_value=result.best_value,
            best_step=result.best_step,
            model_saved=result.model_saved,
            early_stopped=result.early_stopped,
            test=result.reports.get("test", {}).get("metrics"),
        )
    except KeyboardInterrupt:
        end.status, end.error = Status.STOPPED.value, "interrupted"
    except WorkbenchError as exc:
        end.error = str(exc)
    except OSError as exc:  # a full disk, a folder gone: one line, not a traceback
        end.error = f"{exc.filename + ': ' if exc.filename else ''}{exc.strerror or exc}"
    except Exception as exc:  # noqa: BLE001 - recorded in the end event, re-raised by nobody
        end.error, end.traceback = f"{type(exc).__name__}: {exc}", traceback.format_exc()
    finally:
        end.duration_s = (resume.train_seconds if resume else 0.0) + time.perf_counter() - started
        if fanout is not None and lock is not None:  # the main process's
            checkpoint = latest_checkpoint(run_dir)
            end.checkpoint = str(checkpoint.relative_to(run_dir)) if checkpoint else None
            emit(end)
            fanout.log.close()
            if end.status == Status.COMPLETED.value:
                # A run that completed has nothing to resume: its checkpoints go (the
                # model stays), after the end event, so no crash leaves it unresumable.
                from workbench.engine.checkpoints import prune

                prune(run_dir, 0)
            lock.release()
    if fanout is not None and fanout.log_error is not None:
        raise WorkbenchError(
            f"{fanout.log.path}: cannot write events "
            f"({fanout.log_error.strerror or fanout.log_error})"
        )
    return run_dir, end
