"""What a sweep varies: recipe keys, each with the distribution its values come from.

Written ``train.learning_rate=loguniform(1e-5, 1e-3)`` on the command line, or
``"train.learning_rate" = "loguniform(1e-5, 1e-3)"`` under ``[sweep.params]``
(a TOML list there is a choice). Every key and every value a distribution can
give is checked against the recipe schema before anything starts, so a trial
never fails on a value the sweep itself proposed.
"""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from workbench.errors import WorkbenchError
from workbench.recipe import check_key_value, parse_key
from workbench.settings import SCHEMA

# name -> what it takes, for messages and the docs.
DISTRIBUTIONS = {
    "loguniform": "loguniform(low, high): a float, evenly spread on a log scale",
    "uniform": "uniform(low, high): a float",
    "int": "int(low, high): a whole number, both ends included",
    "logint": "logint(low, high): a whole number, on a log scale",
    "choice": "choice(a, b, ...): one of the values given",
}
# Keys a trial may not change: they name or place the run, change what is learnt
# from, or what the trials are compared by.
FIXED = {
    ("", "task"),
    ("", "name"),
    ("output", "dir"),
    ("data", "train"),
    ("data", "extra_train"),
    ("data", "validation"),
    ("eval", "metric"),
}

_CALL = re.compile(r"^\s*([A-Za-z_]+)\s*\((.*)\)\s*$", re.S)


@dataclass(frozen=True)
class Param:
    """One recipe key a sweep varies."""

    name: str  # the --set name: "train.learning_rate"
    kind: str  # a key of DISTRIBUTIONS
    values: tuple  # (low, high), or the choices

    def suggest(self, trial) -> Any:
        """The value an Optuna trial proposes for this key."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.name, list(self.values))
        low, high = self.values
        if self.kind in ("int", "logint"):
            return trial.suggest_int(self.name, low, high, log=self.kind == "logint")
        return trial.suggest_float(self.name, low, high, log=self.kind == "loguniform")

    def override(self, value: Any) -> str:
        """``section.key=value`` as ``--set`` reads it back."""
        return f"{self.name}={format_value(value)}"

    @property
    def text(self) -> str:
        """As a user writes it (``train.batch_size=choice(16, 32)``), strings quoted so
        that it reads back to the same values (``choice("1", "org/model")``)."""
        return f"{self.name}={self.kind}({', '.join(_literal(v) for v in self.values)})"


def _literal(value: Any) -> str:
    """A value as TOML (and so ``parse_param``) reads it back."""
    return json.dumps(value) if isinstance(value, str) else format_value(value)


def format_value(value: Any) -> str:
    """A value as ``--set`` parses it back to the same value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def parse_param(text: str, where: str = "--param") -> Param:
    """``section.key=distribution(...)``; a one-line error naming ``where`` otherwise."""
    if "=" not in text:
        raise WorkbenchError(
            f"{where} {text!r}: expected section.key=distribution(...), "
            "e.g. train.learning_rate=loguniform(1e-5,1e-3)"
        )
    name, spec = (part.strip() for part in text.split("=", 1))
    return make_param(name, spec, f"{where} {name}")


def make_param(name: str, spec: Any, where: str) -> Param:
    """A Param from a key name and a distribution written as text (or, from TOML, a
    list: a choice)."""
    section, key = _known_key(name, where)
    if isinstance(spec, list):
        kind, values = "choice", tuple(spec)
    elif isinstance(spec, str):
        kind, values = _parse_call(spec, where)
    else:
        raise WorkbenchError(f"{where}: expected a distribution such as 'choice(16, 32)'")
    if (section, key) in FIXED:
        raise WorkbenchError(
            f"{where}: a sweep cannot vary {name} (it names or places the runs, or is what "
            "they learn from or are compared by)"
        )
    key_type = SCHEMA[section][key].type
    types = key_type if isinstance(key_type, tuple) else (key_type,)
    if kind == "choice":
        if not values:
            raise WorkbenchError(f"{where}: choice() needs at least one value")
        if len(set(map(format_value, values))) != len(values):
            raise WorkbenchError(f"{where}: choice() lists a value twice")
        values = tuple(check_key_value(name, v, where) for v in values)
        return Param(name, kind, values)
    if len(values) != 2:
        raise WorkbenchError(f"{where}: {DISTRIBUTIONS[kind]} (two numbers, got {len(values)})")
    low, high = values
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    if not numeric or not all(math.isfinite(v) for v in values):
        raise WorkbenchError(f"{where}: {kind}() takes two numbers, got {low!r} and {high!r}")
    if kind in ("int", "logint"):
        if int not in types:
            raise WorkbenchError(
                f"{where}: {name} is not a whole number: use uniform() or loguniform()"
            )
        if not all(isinstance(v, int) for v in values):
            raise WorkbenchError(f"{where}: {kind}() takes whole numbers, got {low!r}, {high!r}")
    elif float not in types:
        hint = "int() or logint()" if int in types else "choice()"
        raise WorkbenchError(f"{where}: {name} takes no fractions: use {hint}")
    if not low < high:
        raise WorkbenchError(f"{where}: the low end {low!r} must be below the high end {high!r}")
    if kind in ("loguniform", "logint") and low <= 0:
        raise WorkbenchError(f"{where}: a log scale needs a low end above 0, got {low!r}")
    checked = tuple(check_key_value(name, v, where) for v in values)
    if kind in ("uniform", "loguniform"):
        checked = tuple(float(v) for v in checked)
    return Param(name, kind, checked)


def _known_key(name: str, where: str) -> tuple[str, str]:
    try:
        return parse_key(name)
    except WorkbenchError as exc:
        raise WorkbenchError(f"{where}: {exc}") from None


def _parse_call(spec: str, where: str) -> tuple[str, tuple]:
    """``loguniform(1e-5, 1e-3)`` -> ("loguniform", (1e-05, 0.001))."""
    match = _CALL.match(spec)
    if not match:
        raise WorkbenchError(
            f"{where}: {spec!r} is not a distribution; one of: " + "; ".join(DISTRIBUTIONS.values())
        )
    kind, args = match.group(1).lower(), match.group(2)
    if kind not in DISTRIBUTIONS:
        from workbench.recipe import did_you_mean

        raise WorkbenchError(
            f"{where}: unknown distribution {kind!r}"
            + (did_you_mean(kind, list(DISTRIBUTIONS)) or f" (one of {', '.join(DISTRIBUTIONS)})")
        )
    try:
        values = tomllib.loads(f"v = [{args}]")["v"]
    except tomllib.TOMLDecodeError:
        # Words without quotes, as people type choices: choice(lora, full).
        values = [v.strip() for v in args.split(",") if v.strip()]
        if kind != "choice" or any(not re.fullmatch(r"[\w.+-]+", v) for v in values):
            raise WorkbenchError(f"{where}: cannot read the values in {spec!r}") from None
    return kind, tuple(values)


def parse_space(
    items: list[str], table: dict | None = None, where: str = "[sweep.params]"
) -> list[Param]:
    """The parameters of a sweep: ``--param`` items, then a recipe's
    ``[sweep.params]`` table (a key given both ways: the command line wins)."""
    params: dict[str, Param] = {}
    for name, spec in (table or {}).items():
        param = make_param(str(name), spec, f"{where} {name}")
        params[param.name] = param
    given: set[str] = set()
    for item in items:
        param = parse_param(item)
        if param.name in given:
            raise WorkbenchError(f"--param {param.name}: given twice")
        given.add(param.name)
        params[param.name] = param
    if not params:
        raise WorkbenchError(
            "a sweep needs at least one parameter: --param section.key=distribution(...) "
            "or a [sweep.params] table in the recipe"
        )
    return list(params.values())


def grid(params: list[Param]) -> dict[str, list] | None:
    """The grid of a sweep whose parameters are all choices; ``None`` otherwise."""
    if any(p.kind != "choice" for p in params):
        return None
    return {p.name: list(p.values) for p in params}


def grid_size(params: list[Param]) -> int | None:
    """How many points the grid has (``None`` when a parameter is continuous)."""
    points = grid(params)
    return math.prod(len(v) for v in points.values()) if points is not None else None
