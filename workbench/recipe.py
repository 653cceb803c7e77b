"""TOML recipes: loading, validation and ``--set`` overrides.

A recipe is one experiment. Every key is declared in ``settings`` with its type,
default and allowed range, so that a typo, a wrong type or a value out of range
is an error that names the key, the file and (where the TOML has it) the line.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from workbench.errors import WorkbenchError, where
from workbench.settings import (
    SCHEMA,
    TASKS,
    DataSettings,
    EvalSettings,
    Key,
    ModelSettings,
    OutputSettings,
    PeftSettings,
    RelationSettings,
    TrainSettings,
)

# The table `workbench sweep` reads: trials, sampler, pruner, and [sweep.params].
SWEEP_TABLE = "sweep"


@dataclass
class Recipe:
    """A validated recipe: plain values, every key present, paths resolved."""

    values: dict[str, dict[str, Any]]
    source: Path | None = None
    overrides: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # keys given that change nothing
    text: str = field(default="", repr=False)  # the file as read, for line numbers
    sweep: dict[str, Any] = field(default_factory=dict)  # the [sweep] table, unchecked

    def __getitem__(self, section: str) -> dict[str, Any]:
        return self.values[section]

    # Each section as its typed settings (workbench/settings.py), read as attributes.
    @property
    def model(self) -> ModelSettings:
        return ModelSettings(**self.values["model"])

    @property
    def data(self) -> DataSettings:
        return DataSettings(**self.values["data"])

    @property
    def train(self) -> TrainSettings:
        return TrainSettings(**self.values["train"])

    @property
    def eval(self) -> EvalSettings:
        return EvalSettings(**self.values["eval"])

    @property
    def relation(self) -> RelationSettings:
        return RelationSettings(**self.values["relation"])

    @property
    def peft(self) -> PeftSettings:
        return PeftSettings(**self.values["peft"])

    @property
    def output(self) -> OutputSettings:
        return OutputSettings(**self.values["output"])

    @property
    def task(self) -> str:
        return self.values[""]["task"]

    @property
    def name(self) -> str:
        if self.values[""]["name"]:
            return self.values[""]["name"]
        return self.source.stem if self.source else self.task

    def where(self, section: str, key: str) -> str:
        """Where a key's value came from, for an error found after loading (by the
        task or the model): ``--set section.key`` when overridden, else ``file:line``."""
        dotted = f"{section}.{key}" if section else key
        if any(item.split("=", 1)[0].strip() == dotted for item in self.overrides):
            return f"--set {dotted}"
        if self.source is None:
            return "<recipe>"
        return where(self.source, _line_of(self.text, section, key))

    def to_dict(self) -> dict[str, Any]:
        """Nested dict in TOML layout (top-level keys first), without unset keys; the
        name is the resolved one, so the dict (or its TOML) names runs the same way."""
        out: dict[str, Any] = {k: v for k, v in self.values[""].items() if v not in (None, "")}
        out["name"] = self.name
        for section, keys in self.values.items():
            if section:
                out[section] = {k: v for k, v in keys.items() if v is not None}
        return out

    def to_toml(self) -> str:
        """The resolved recipe as TOML text."""
        import tomli_w  # escapes every control character, as hand-written TOML did not

        return tomli_w.dumps(self.to_dict())


def flatten(values: dict[str, Any]) -> dict[str, Any]:
    """``{"train": {"epochs": 3}}`` -> ``{"train.epochs": 3}`` (the ``--set`` key names)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out.update({f"{key}.{k}" if key else k: v for k, v in value.items()})
        else:
            out[key] = value
    return out


def _line_of(text: str, section: str, key: str | None) -> int | None:
    """Best-effort line number of ``[section] key`` in TOML text (tomllib keeps none)."""
    current = ""
    header = re.compile(r"^\s*\[([^\[\]]+)\]\s*(#.*)?$")
    for number, line in enumerate(text.splitlines(), start=1):
        m = header.match(line)
        if m:
            current = m.group(1).strip()
            if key is None and current == section:
                return number
            continue
        if key is not None and current == section and re.match(rf"^\s*{re.escape(key)}\s*=", line):
            return number
    return None


def _is_path(spec: Key, value: Any) -> bool:
    """Should this value be resolved as a file path?"""
    if not isinstance(value, str) or not value or value.startswith("hf:"):
        return False
    return spec.path or (spec.maybe_path and value.startswith((".", "/", "~")))


def _resolve(spec: Key, value: Any, base: Path) -> Any:
    """A path value (or each path in a list of them) made absolute against ``base``."""
    if isinstance(value, list) and spec.path:
        return [_resolve(spec, item, base) for item in value]
    if not _is_path(spec, value):
        return value
    path = Path(value).expanduser()
    return os.path.normpath(path if path.is_absolute() else base / path)


def did_you_mean(word: str, options) -> str:
    """`` (did you mean 'x'?)`` for the option closest to ``word``, or nothing."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _type_name(t) -> str:
    if isinstance(t, tuple):
        return " or ".join(_type_name(x) for x in t)
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
        list: "a list",
    }[t]


def _check_value(dotted: str, spec: Key, value: Any, loc: str) -> Any:
    """Type- and range-check one value; return it normalised (ints to floats etc.)."""
    types = spec.type if isinstance(spec.type, tuple) else (spec.type,)
    ok = False
    for t in types:
        if t is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
            break
        if isinstance(value, t) and not (t is int and isinstance(value, bool)):
            ok = True
            break
    if not ok:
        raise WorkbenchError(f"{loc}: '{dotted}' must be {_type_name(spec.type)}, got {value!r}")
    if spec.type is list and not all(isinstance(v, str) for v in value):
        raise WorkbenchError(f"{loc}: '{dotted}' must be a list of strings")
    # A list key's choices are what each of its items may be.
    what = f"'{dotted}' items" if spec.type is list else f"'{dotted}'"
    for item in value if spec.type is list else [value]:
        if spec.choices is not None and item not in spec.choices:
            choices = ", ".join(repr(c) for c in spec.choices)
            raise WorkbenchError(
                f"{loc}: {what} must be one of {choices}, got {item!r}"
                + did_you_mean(str(item), [str(c) for c in spec.choices])
            )
    if spec.min is not None and value < spec.min:
        raise WorkbenchError(f"{loc}: '{dotted}' must be at least {spec.min}, got {value!r}")
    if spec.max is not None and value > spec.max:
        raise WorkbenchError(f"{loc}: '{dotted}' must be at most {spec.max}, got {value!r}")
    return value


def parse_override(item: str) -> tuple[str, str, Any]:
    """Split ``section.key=value`` and type the value by the schema."""
    if "=" not in item:
        raise WorkbenchError(f"--set {item!r}: expected section.key=value")
    dotted, raw = item.split("=", 1)
    dotted = dotted.strip()
    try:
        section, key = parse_key(dotted)
    except WorkbenchError as exc:
        raise WorkbenchError(f"--set {dotted}: {exc}") from None
    spec = SCHEMA[section][key]
    if spec.type is str:
        value: Any = raw
    elif spec.type is list:
        value = _list_value(raw)
    else:
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            raise WorkbenchError(
                f"--set {dotted}: {raw!r} is not {_type_name(spec.type)}"
            ) from None
    return section, key, value


def parse_key(dotted: str) -> tuple[str, str]:
    """``train.epochs`` -> ("train", "epochs"); ``name`` -> ("", "name"); an unknown
    section or key is an error with the nearest name."""
    section, _, key = dotted.strip().rpartition(".")
    if section not in SCHEMA:
        raise WorkbenchError(
            f"unknown section '{section}'" + did_you_mean(section, [s for s in SCHEMA if s])
        )
    if key not in SCHEMA[section]:
        raise WorkbenchError(f"unknown key '{key}'" + _suggest_key(section, key))
    return section, key


def check_key_value(dotted: str, value: Any, loc: str) -> Any:
    """``value`` checked as ``dotted``'s type and range (an error naming ``loc``), normalised."""
    section, key = parse_key(dotted)
    return _check_value(dotted, SCHEMA[section][key], value, loc)


def _list_value(raw: str) -> list:
    """A list typed on the command line: ``a,b``, TOML's ``["a", "b"]``, or the
    ``[a, b]`` people type without quotes."""
    raw = raw.strip()
    if raw.startswith("["):
        try:
            return tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            raw = raw.strip("[]")
    return [v.strip().strip("'\"") for v in raw.split(",") if v.strip()]


def _suggest_key(section: str, key: str) -> str:
    """A hint for an unknown key: the section it belongs in when it is a key of
    another one (``batch_size`` -> ``train.batch_size``), else the closest name."""
    homes = [f"{s}.{key}" if s else key for s, keys in SCHEMA.items() if key in keys]
    if homes:
        return f" (did you mean '{homes[0]}'?)"
    return did_you_mean(key, SCHEMA[section])


def join_split_lists(items: list[str]) -> list[str]:
    """``--set data.labels=[PER, LOC]`` reaches us as two words, split by the shell at
    the space: join an item without ``=`` to an open ``[`` before it."""
    out: list[str] = []
    for item in items:
        if out and "=" not in item and out[-1].count("[") > out[-1].count("]"):
            out[-1] += " " + item
        else:
            out.append(item)
    return out


def check_override(item: str) -> tuple[str, str, Any]:
    """``parse_override`` plus the schema's type and range checks: the value a
    ``--set`` (or a TUI field) would put in the recipe, or a ``WorkbenchError``."""
    section, key, value = parse_override(item)
    dotted = f"{section}.{key}" if section else key
    return section, key, _check_value(dotted, SCHEMA[section][key], value, f"--set {dotted}")


def load_recipe(
    path: str | Path, overrides: list[str] | None = None, check_files: bool = True
) -> Recipe:
    """Read, validate and resolve a recipe file; apply ``section.key=value`` overrides."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WorkbenchError(f"{path}: recipe file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkbenchError(f"{path}: cannot read recipe ({exc})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WorkbenchError(f"{path}: invalid TOML: {exc}") from None
    return build_recipe(
        raw, source=path, text=text, overrides=overrides or [], check_files=check_files
    )


def build_recipe(
    raw: dict,
    source: Path | None = None,
    text: str = "",
    overrides: list[str] | None = None,
    check_files: bool = True,
) -> Recipe:
    """Validate a parsed recipe dict against ``SCHEMA``."""
    overrides = join_split_lists(overrides or [])
    name = str(source) if source else "<recipe>"
    values: dict[str, dict[str, Any]] = {s: {} for s in SCHEMA}
    sweep: dict[str, Any] = {}
    for top_key, top_val in raw.items():
        if top_key == SWEEP_TABLE and isinstance(top_val, dict):
            # Read by `workbench sweep` (workbench/sweeps), which checks it; a run trains
            # the recipe as it stands, and its own recipe.toml leaves the table out.
            sweep = top_val
            continue
        if isinstance(top_val, dict):
            if top_key not in SCHEMA or top_key == "":
                raise WorkbenchError(
                    f"{where(name, _line_of(text, top_key, None))}: unknown section "
                    f"[{top_key}]" + did_you_mean(top_key, [s for s in SCHEMA if s])
                )
            for key, val in top_val.items():
                loc = where(name, _line_of(text, top_key, key))
                if key not in SCHEMA[top_key]:
                    raise WorkbenchError(
                        f"{loc}: unknown key '{top_key}.{key}'" + _suggest_key(top_key, key)
                    )
                values[top_key][key] = _check_value(
                    f"{top_key}.{key}", SCHEMA[top_key][key], val, loc
                )
        else:
            loc = where(name, _line_of(text, "", top_key))
            if top_key not in SCHEMA[""]:
                raise WorkbenchError(f"{loc}: unknown key '{top_key}'" + _suggest_key("", top_key))
            values[""][top_key] = _check_value(top_key, SCHEMA[""][top_key], top_val, loc)

    in_file = {(section, key) for section, keys in values.items() for key in keys}
    overridden: set[tuple[str, str]] = set()
    for item in overrides:
        section, key, value = check_override(item)
        overridden.add((section, key))
        # Typed on the command line: relative to where the user stands.
        values[section][key] = _resolve(SCHEMA[section][key], value, Path.cwd())

    if values[""].get("task") is None:
        raise WorkbenchError(f"{name}: missing 'task' (one of {', '.join(TASKS)})")

    # Fill defaults and resolve paths relative to the recipe file; a default path
    # (only output.dir has one: runs/) is where the user stands, as `workbench runs`
    # and the TUI look there, wherever the recipe lives.
    base = source.parent.resolve() if source else Path.cwd()
    for section, keys in SCHEMA.items():
        for key, spec in keys.items():
            given = key in values[section]
            if not given:
                values[section][key] = copy.deepcopy(spec.default)
            values[section][key] = _resolve(
                spec, values[section][key], base if given else Path.cwd()
            )

    data = values["data"]
    if not data["train"]:
        raise WorkbenchError(f"{name}: missing 'data.train'")
    if check_files:
        files = [(split, data[split]) for split in ("train", "validation", "test") if data[split]]
        files += [("extra_train", value) for value in data["extra_train"] or []]
        for key, value in files:
            if not value.startswith("hf:") and not Path(value).is_file():
                if ("data", key) in overridden:
                    raise WorkbenchError(f"--set data.{key}: file not found: {value}")
                loc = where(name, _line_of(text, "data", key))
                raise WorkbenchError(
                    f"{loc}: data.{key} file not found: {value} (paths in a "
                    f"recipe are relative to the recipe's folder)"
                )
    warnings = []
    for section, key, why in inert_keys(values):
        if (section, key) in overridden:
            warnings.append(f"--set {section}.{key}: has no effect {why}")
        elif (section, key) in in_file:
            warnings.append(
                f"{where(name, _line_of(text, section, key))}: {section}.{key} has no effect {why}"
            )
    return Recipe(
        values=values,
        source=source,
        overrides=list(overrides),
        warnings=warnings,
        text=text,
        sweep=sweep,
    )


def inert_keys(values: dict[str, dict[str, Any]]) -> list[tuple[str, str, str]]:
    """``(section, key, why)`` for every key that the recipe's other choices make
    irrelevant (LoRA's rank with full fine-tuning, relation settings for NER...)."""
    task, method = values[""]["task"], values["peft"]["method"]
    inert = []
    if task != "relation":
        inert += [("relation", key, f"for task '{task}'") for key in SCHEMA["relation"]]
    lora_only = ("r", "alpha", "dropout", "target_modules", "merge")
    if method != "lora":
        inert += [("peft", key, f"with peft.method = '{method}' (LoRA only)") for key in lora_only]
    if method != "freeze":
        inert.append(("peft", "layers", f"with peft.method = '{method}' (freeze only)"))
    if values["eval"]["every"] != "steps":
        inert.append(("eval", "steps", "with eval.every = 'epoch'"))
    return inert
