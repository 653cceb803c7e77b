"""A sweep: its folder, its spec, its Optuna study, and its trials as rows.

The folder (``<output.dir>/sweeps/<stamp>-<name>/``) holds ``sweep.json`` (the
spec), ``recipe.toml`` (the recipe every trial starts from, resolved),
``optuna.sqlite`` (the study, unless ``--storage`` names a database) and
``runs/`` (each trial an ordinary run folder). The spec and the recipe are also
kept in the study's user attributes, so a worker on another machine can join a
sweep from its storage URL alone.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.recipe import Recipe, load_recipe
from workbench.sweeps.space import Param, grid, grid_size, parse_space

SPEC, RECIPE, STORAGE_FILE, TRIAL_RUNS = "sweep.json", "recipe.toml", "optuna.sqlite", "runs"
SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "halving", "hyperband", "none")
DEFAULT_TRIALS = 20
# Optuna's heartbeat: a trial whose worker has been silent this long (on any machine)
# is failed and retried. Workers on this machine are checked at once by their pid.
HEARTBEAT_S, GRACE_S = 30, 120
STATE_NAMES = {"COMPLETE": "completed", "PRUNED": "pruned", "FAIL": "failed"}


@dataclass
class SweepSpec:
    """What a sweep runs: written once, when it is created."""

    name: str
    params: list[str]  # Param.text, e.g. "train.batch_size=choice(16, 32)"
    trials: int
    sampler: str = "tpe"
    pruner: str = "median"
    seed: int | None = None
    metric: str = ""
    direction: str = "maximize"
    storage: str = ""  # a SQLAlchemy URL; sqlite in the folder by default
    study: str = ""
    recipe_source: str = ""  # the file the sweep was made from
    created: float = field(default_factory=time.time)
    keep: int | None = None  # the best trials whose models stay (None: every trial's)

    def parameters(self) -> list[Param]:
        return parse_space(self.params)

    @classmethod
    def from_dict(cls, data: dict) -> SweepSpec:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class TrialRow:
    """One trial as the table shows it."""

    number: int
    state: str  # running, completed, pruned, failed, waiting
    value: float | None
    params: dict[str, Any]
    run_dir: str | None = None
    pruned_at: int | None = None
    steps: int | None = None
    seconds: float | None = None
    retry_of: int | None = None
    resume: str | None = None  # a retry's: the run folder it goes on from
    error: str | None = None
    intermediate: dict[int, float] = field(default_factory=dict)


def sweep_settings(
    recipe: Recipe,
    params: list[str],
    trials: int | None = None,
    sampler: str | None = None,
    pruner: str | None = None,
    seed: int | None = None,
    keep: str | int | None = None,
) -> tuple[list[Param], dict[str, Any]]:
    """The parameters and settings of a sweep: the recipe's ``[sweep]`` table, with
    the command line's options over it. Everything is checked here, before anything
    is written: a bad name, distribution or grid is one error."""
    table = dict(recipe.sweep)
    where = f"{recipe.source or '<recipe>'} [sweep]"
    known = {"params", "trials", "sampler", "pruner", "seed", "keep"}
    for key in table:
        if key not in known:
            from workbench.recipe import did_you_mean

            raise WorkbenchError(
                f"{where}: unknown key {key!r}"
                + (did_you_mean(key, known) or f" ({', '.join(sorted(known))})")
            )
    if not isinstance(table.get("params", {}), dict):
        raise WorkbenchError(f"{where}: params must be a table of key = distribution")
    space = parse_space(
        params, table.get("params"), where=f"{recipe.source or '<recipe>'} [sweep.params]"
    )
    sampler = sampler or table.get("sampler", "tpe")
    pruner = pruner or table.get("pruner", "median")
    for name, value, options in (("sampler", sampler, SAMPLERS), ("pruner", pruner, PRUNERS)):
        if value not in options:
            raise WorkbenchError(f"sweep {name} {value!r}: one of {', '.join(options)}")
    trials = trials if trials is not None else table.get("trials")
    seed = seed if seed is not None else table.get("seed")
    for name, value, least in (("trials", trials, 1), ("seed", seed, 0)):
        whole = isinstance(value, int) and not isinstance(value, bool)
        if value is not None and (not whole or value < least):
            raise WorkbenchError(f"sweep {name}: a whole number, at least {least}: {value!r}")
    points = grid_size(space)
    if sampler == "grid":
        if points is None:
            continuous = [p.name for p in space if p.kind != "choice"]
            raise WorkbenchError(
                f"a grid sweep takes choice() parameters only; {', '.join(continuous)} "
                "is continuous (use the tpe or random sampler)"
            )
        if trials is not None and points > trials:
            raise WorkbenchError(
                f"the grid has {points} points, more than the {trials} trials asked for: "
                f"ask for --trials {points}, or use the tpe or random sampler"
            )
        trials = points
    keep = (
        parse_keep(keep, "--keep")
        if keep is not None
        else parse_keep(table.get("keep"), f"{where} keep")
    )
    return space, {
        "trials": trials or DEFAULT_TRIALS,
        "sampler": sampler,
        "pruner": pruner,
        "seed": seed,
        "keep": keep,
    }


def make_sampler(spec: SweepSpec, seed: int | None):
    """The Optuna sampler a spec names, seeded with ``seed`` (see ``worker_seed``)."""
    import optuna

    if spec.sampler == "grid":
        points = grid(spec.parameters())
        assert points is not None  # checked when the sweep was made
        return optuna.samplers.GridSampler(points, seed=seed)
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    # A few random trials first, as Optuna's default, but no more than a third of a
    # small sweep: TPE has nothing to model until then.
    startup = max(2, min(10, spec.trials // 3))
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)


def make_pruner(spec: SweepSpec):
    """The pruner: median (a trial below the median of the others at the same
    evaluation stops), Hyperband, or none."""
    import optuna

    if spec.pruner == "none":
        return optuna.pruners.NopPruner()
    if spec.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner()
    if spec.pruner == "halving":
        # Successive halving: at the end of the first epoch (10 points: pruning.py's
        # tenths) a trial goes on only in the best third of those that got there, and
        # again at three epochs, nine...
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=10, reduction_factor=3)
    # Two trials finished before any is judged (a trial is compared only where others
    # reported too), and no trial before its first epoch's end or a third of its
    # training: pruning.judged_from, which every pruner here obeys. A median
    # of finished and pruned trials alike was measured: it kept the best more often
    # but saved about half as many steps (benchmarks/README.md, issue 28).
    return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)


def shown_url(url: str) -> str:
    """A storage URL as messages and tables show it: without its password."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy reads: shown as given
        return url


def open_storage(url: str, retry_callback=None):
    """Optuna's storage at ``url``, with heartbeats; a URL that cannot be reached
    (or whose driver is missing) is one line."""
    import warnings

    import optuna

    # Failed and pruned trials are the worker's to report, in a line, not Optuna's
    # logger with a traceback.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    # Heartbeats are marked experimental; they are what fails a dead machine's trial.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # Trials are asked and told outside Study.optimize too (a worker taking over a dead
    # one's trial); the heartbeat is kept where it matters, while a trial runs.
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed")
    logging.getLogger("sqlalchemy").setLevel(logging.ERROR)
    if url.startswith("sqlite"):
        engine_kwargs: dict | None = {"connect_args": {"timeout": 30}}
    elif url.startswith("postgresql"):  # an unreachable server fails in seconds, not minutes
        engine_kwargs = {"connect_args": {"connect_timeout": 10}}
    else:
        engine_kwargs = None
    try:
        return optuna.storages.RDBStorage(
            url,
            engine_kwargs=engine_kwargs,
            heartbeat_interval=HEARTBEAT_S,
            grace_period=GRACE_S,
            heartbeat_stale_trial_callback=retry_callback,
        )
    except Exception as exc:  # noqa: BLE001 - any driver's error is the same to the user
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WorkbenchError(f"storage {shown_url(url)}: cannot open it ({first})") from None


# What `sweep join` may change in a sweep made earlier: kept in the study, which
# workers on every machine share (sweep.json is this folder's copy).
CHANGEABLE = ("trials", "keep")


def refresh(spec: SweepSpec, study) -> SweepSpec:
    """``spec`` with the total and what to keep as the study holds them now (changed
    by a `sweep join` since, here or on another machine)."""
    kept = (study.user_attrs.get("workbench") or {}).get("spec") or {}
    for name in CHANGEABLE:
        if name in kept:
            setattr(spec, name, kept[name])
    return spec


def parse_keep(value: Any, where: str) -> int | None:
    """``keep``: a number of trials (at least 1), or "all" (None)."""
    if value is None or value == "all":
        return None
    number = int(value) if isinstance(value, str) and value.strip().isdigit() else value
    if isinstance(number, int) and not isinstance(number, bool) and number >= 1:
        return number
    raise WorkbenchError(f'{where} is a number of trials (at least 1) or "all", not {value!r}')


class Sweep:
    """A sweep's folder and spec; its study opened on demand."""

    def __init__(self, folder: Path, spec: SweepSpec):
        self.folder, self.spec = folder, spec
        self.error: str | None = None  # why its trials cannot be read (a listing says it)

    @property
    def recipe_path(self) -> Path:
        return self.folder / RECIPE

    @property
    def runs_dir(self) -> Path:
        return self.folder / TRIAL_RUNS

    def study(self, retry_callback=None, seed: int | None = None):
        """The Optuna study, with this spec's pruner and sampler (seeded with ``seed``,
        by default the spec's: what the worker that made the sweep uses)."""
        import optuna

        url = self.spec.storage
        if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
            # Opening it would make an empty one: the sweep would seem to have no trials.
            raise WorkbenchError(f"{self.folder}: its study file is gone ({url})")
        storage = open_storage(url, retry_callback)
        try:
            return optuna.load_study(
                study_name=self.spec.study,
                storage=storage,
                sampler=make_sampler(self.spec, self.spec.seed if seed is None else seed),
                pruner=make_pruner(self.spec),
            )
        except KeyError:
            raise WorkbenchError(
                f"storage {shown_url(url)}: holds no sweep named {self.spec.study!r}"
            ) from None

    def trials(self, study=None) -> list[TrialRow]:
        """Every trial, in the order they were asked for."""
        study = study or self.study()
        refresh(self.spec, study)  # as every table shows it, if joined with changes since
        rows = []
        for t in study.get_trials(deepcopy=False):
            attrs = t.user_attrs
            seconds = None
            if t.datetime_start is not None:
                ended = t.datetime_complete
                seconds = (
                    ended.timestamp() if ended else time.time()
                ) - t.datetime_start.timestamp()
            rows.append(
                TrialRow(
                    number=t.number,
                    state=STATE_NAMES.get(t.state.name, t.state.name.lower()),
                    value=t.value if t.state.name == "COMPLETE" else None,
                    params=dict(t.params),
                    run_dir=attrs.get("run_dir"),
                    pruned_at=attrs.get("pruned_at"),
                    steps=attrs.get("steps"),
                    seconds=seconds,
                    retry_of=attrs.get("retry_of"),
                    resume=attrs.get("resume"),
                    error=attrs.get("error"),
                    intermediate=dict(t.intermediate_values),
                )
            )
        return rows

    def ranked(self, rows: list[TrialRow]) -> list[TrialRow]:
        """The completed trials, best first (of equal values, the earlier trial)."""
        sign = 1 if self.spec.direction == "minimize" else -1
        done = [r for r in rows if r.state == "completed" and r.value is not None]
        return sorted(done, key=lambda r: (sign * r.value, r.number))  # type: ignore[operator]

    def best(self, rows: list[TrialRow]) -> TrialRow | None:
        """The completed trial with the best value."""
        ranked = self.ranked(rows)
        return ranked[0] if ranked else None

    def overrides(self, values: dict[str, Any]) -> list[str]:
        """``--set`` items for a trial's values."""
        by_name = {p.name: p for p in self.spec.parameters()}
        return [by_name[name].override(value) for name, value in values.items() if name in by_name]

    def best_recipe(self, row: TrialRow) -> str:
        """The recipe with the best trial's values in it, ready to run."""
        recipe = load_recipe(self.recipe_path, self.overrides(row.params), check_files=False)
        head = (
            f"# Sweep {self.spec.name}, trial {row.number}: {self.spec.metric} = {row.value:.4f}\n"
            f"# {' '.join(self.overrides(row.params))}\n"
        )
        return head + recipe.to_toml()

    def importances(self, study=None) -> dict[str, float]:
        """Each parameter's share of the objective's variance (fANOVA over the
        completed trials); empty until there are enough of them to say."""
        import optuna

        study = study or self.study()
        complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
        if len(complete) < 3:
            return {}
        try:
            evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
            return dict(optuna.importance.get_param_importances(study, evaluator=evaluator))
        except (RuntimeError, ValueError):  # one value for every trial: nothing to split
            return {}


def create_sweep(
    recipe: Recipe,
    space: list[Param],
    settings: dict[str, Any],
    metric: str,
    lower_is_better: bool,
    storage: str | None = None,
    sweeps_dir: Path | None = None,
) -> Sweep:
    """Write a new sweep folder and create its study (a storage URL that cannot be
    reached leaves no folder behind)."""
    import optuna

    from workbench.runs.folder import create_run_dir

    base = sweeps_dir or Path(recipe.output.dir) / "sweeps"
    if storage and storage.startswith("sqlite:///") and not storage.startswith("sqlite:////"):
        # Relative to here: written absolute, so a worker elsewhere opens the same file.
        storage = f"sqlite:///{Path(storage.removeprefix('sqlite:///')).resolve()}"
    if storage:
        open_storage(storage)  # reachable before anything is written
    folder = create_run_dir(base, recipe.name)
    url = storage or f"sqlite:///{(folder / STORAGE_FILE).resolve()}"
    spec = SweepSpec(
        name=folder.name,
        params=[p.text for p in space],
        metric=metric,
        direction="minimize" if lower_is_better else "maximize",
        storage=url,
        study=folder.name,
        recipe_source=str(recipe.source or ""),
        **settings,
    )
    text = recipe.to_toml()
    try:
        study = optuna.create_study(
            study_name=spec.study,
            storage=open_storage(url),
            direction=spec.direction,  # type: ignore[arg-type]
        )
    except Exception as exc:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)  # no sweep folder without its study
        if isinstance(exc, optuna.exceptions.DuplicatedStudyError):
            raise WorkbenchError(
                f"storage {shown_url(url)}: already holds a sweep named {spec.study!r}"
            ) from None
        raise
    study.set_user_attr("workbench", {"spec": asdict(spec), "recipe": text})
    (folder / RECIPE).write_text(text, encoding="utf-8")
    (folder / SPEC).write_text(json.dumps(asdict(spec), indent=2) + "\n", encoding="utf-8")
    (folder / TRIAL_RUNS).mkdir()
    return Sweep(folder, spec)


def open_sweep(
    reference: str | Path, study_name: str | None = None, sweeps_dir: Path | None = None
) -> Sweep:
    """A sweep from its folder, or from a storage URL and study name (a worker on
    another machine: the folder is made here from what the study keeps)."""
    text = str(reference)
    if "://" in text:
        return _sweep_from_storage(text, study_name, sweeps_dir or Path("runs") / "sweeps")
    folder = Path(text)
    if not (folder / SPEC).is_file():
        found = _by_name(text, sweeps_dir or Path("runs") / "sweeps")
        if found is None:
            raise WorkbenchError(f"{text}: not a sweep folder (no {SPEC})")
        folder = found
    try:
        spec = SweepSpec.from_dict(json.loads((folder / SPEC).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        raise WorkbenchError(f"{folder / SPEC}: cannot read it ({exc})") from None
    return Sweep(folder, spec)


def _by_name(name: str, sweeps_dir: Path) -> Path | None:
    """A sweep named by the end of its folder name (the newest that matches)."""
    for folder in sweep_folders(sweeps_dir):
        if folder.name == name or folder.name.endswith(f"-{name}"):
            return folder
    return None


def _sweep_from_storage(url: str, study_name: str | None, sweeps_dir: Path) -> Sweep:
    import optuna

    storage = open_storage(url)
    names = optuna.get_all_study_names(storage)
    if study_name is None:
        if len(names) != 1:
            held = ", ".join(names) or "none"
            raise WorkbenchError(
                f"storage {shown_url(url)}: name the sweep with --study (it holds {held})"
            )
        study_name = names[0]
    if study_name not in names:
        raise WorkbenchError(f"storage {shown_url(url)}: holds no sweep named {study_name!r}")
    study = optuna.load_study(study_name=study_name, storage=storage)
    kept = study.user_attrs.get("workbench")
    if not kept:
        raise WorkbenchError(
            f"storage {shown_url(url)}: study {study_name!r} was not made by workbench sweep"
        )
    folder = sweeps_dir / f"{study_name}@{socket.gethostname()}"
    if not (folder / SPEC).is_file():
        (folder / TRIAL_RUNS).mkdir(parents=True, exist_ok=True)
        (folder / RECIPE).write_text(kept["recipe"], encoding="utf-8")
        (folder / SPEC).write_text(json.dumps(kept["spec"], indent=2) + "\n", encoding="utf-8")
    return Sweep(folder, SweepSpec.from_dict(kept["spec"]))


def sweep_folders(sweeps_dir: str | Path) -> list[Path]:
    """The sweep folders under ``sweeps_dir``, newest first."""
    base = Path(sweeps_dir)
    if not base.is_dir():
        return []
    return sorted(
        (p for p in base.iterdir() if (p / SPEC).is_file()), key=lambda p: p.name, reverse=True
    )
