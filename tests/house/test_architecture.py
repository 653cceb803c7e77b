"""The house rules, as tests: who may import whom, and who may print. The layout
(docs/architecture.md, "Layout") holds only while something checks it; this does, on
every `.ci/run`. Each rule reads the package's source with ``ast``: nothing is
imported, so a rule holds whatever is installed."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "workbench"

# The front ends: they draw, so they may use Textual (the TUI) or Rich's live
# display and print (the CLI and its console view).
TUI = "workbench.tui"
FRONT_ENDS = ("workbench.cli", "workbench.console", "workbench.__main__", TUI)
# The layers below them never print: they report through events, return values
# and exceptions, and a front end decides what the user sees.
SILENT = (
    "workbench.engine",
    "workbench.tasks",
    "workbench.data",
    "workbench.kg",
    "workbench.runs",
    "workbench.deploy",
    "workbench.annotate",
    "workbench.sweeps",
)
LIVE_DISPLAY = ("textual", "textual_plotext", "rich.live", "rich.progress", "rich.status")


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    tree: ast.Module

    def imports(self) -> set[str]:
        """Every module this one imports (relative imports made absolute), at any depth:
        imports inside functions count, as they run all the same."""
        found: set[str] = set()
        package = self.name if self.path.name == "__init__.py" else self.name.rpartition(".")[0]
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
        return found

    def prints(self) -> list[int]:
        """Lines that call ``print``."""
        return [
            node.lineno
            for node in ast.walk(self.tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "print"
        ]


def modules() -> list[Module]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found.append(Module(name, path, ast.parse(path.read_text(encoding="utf-8"))))
    return found


def within(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def broken(rule) -> list[str]:
    """``module: what it must not import`` for each module that breaks ``rule``
    (a function of a module returning the offending imports)."""
    return [
        f"{m.name} ({m.path.relative_to(PACKAGE.parent)}): {', '.join(sorted(bad))}"
        for m in modules()
        if (bad := rule(m))
    ]


def test_the_rules_see_the_whole_package():
    names = {m.name for m in modules()}
    assert {
        "workbench.cli",
        "workbench.engine.loop",
        "workbench.tui.app",
        "workbench.kg.build",
        "workbench.data.conll",
    } <= names
    loop = next(m for m in modules() if m.name == "workbench.engine.loop")
    assert "workbench.runs.events" in loop.imports()  # imports are read, relative ones too


def test_relative_imports_are_read_as_absolute_ones():
    source = "from ..runs import events\nfrom . import faults\nimport torch.nn\n"
    loop = Module("workbench.engine.loop", PACKAGE / "engine" / "loop.py", ast.parse(source))
    assert loop.imports() == {
        "workbench.runs",
        "workbench.runs.events",
        "workbench.engine",
        "workbench.engine.faults",
        "torch.nn",
    }
    package = Module(
        "workbench.engine",
        PACKAGE / "engine" / "__init__.py",
        ast.parse("from .loop import Engine\n"),
    )
    assert package.imports() == {"workbench.engine.loop", "workbench.engine.loop.Engine"}


def test_only_the_tui_imports_textual():
    assert (
        broken(
            lambda m: (
                set()
                if within(m.name, TUI)
                else {i for i in m.imports() if within(i, "textual", "textual_plotext")}
            )
        )
        == []
    )


def test_the_core_never_imports_a_front_end_or_a_live_display():
    def rule(m: Module) -> set[str]:
        if within(m.name, *FRONT_ENDS):
            return set()
        return {i for i in m.imports() if within(i, *FRONT_ENDS, *LIVE_DISPLAY)}

    assert broken(rule) == []


def test_the_layers_below_the_front_ends_never_print():
    assert [
        f"{m.name}:{line}" for m in modules() if within(m.name, *SILENT) for line in m.prints()
    ] == []


@pytest.mark.parametrize(
    "layer,never",
    [
        # Readers know nothing of training, runs or models.
        (
            "workbench.data",
            (
                "workbench.engine",
                "workbench.runner",
                "workbench.runs",
                "workbench.tasks",
                "workbench.models",
                "workbench.experiment",
                "workbench.kg",
                "workbench.annotate",
            ),
        ),
        # The run folder contract is read by everyone and depends on no one above it.
        (
            "workbench.runs",
            (
                "workbench.engine",
                "workbench.runner",
                "workbench.tasks",
                "workbench.kg",
                "workbench.models",
                "workbench.annotate",
            ),
        ),
        # The engine trains what it is given; it neither reads recipes' files nor runs folders.
        (
            "workbench.engine",
            ("workbench.runner", "workbench.kg", "workbench.deploy", "workbench.annotate"),
        ),
        # Models (pretrained encoders, tuning methods, the saved folder and its ONNX form)
        # are read alike by everyone above them and depend on none of them.
        (
            "workbench.models",
            (
                "workbench.engine",
                "workbench.runner",
                "workbench.experiment",
                "workbench.evaluate",
                "workbench.deploy",
                "workbench.kg",
                "workbench.annotate",
            ),
        ),
        # A prepared experiment is what the engine trains: it knows nothing of training.
        ("workbench.experiment", ("workbench.engine", "workbench.runner", "workbench.deploy")),
        # The graph is built from saved models, never from training.
        ("workbench.kg", ("workbench.engine", "workbench.runner", "workbench.annotate")),
        # Annotation proposes with saved models and writes recipes; runs are launched
        # by a front end.
        ("workbench.annotate", ("workbench.engine", "workbench.runner")),
        # A sweep's trials are `workbench run` processes: it never trains in its own.
        (
            "workbench.sweeps",
            ("workbench.runner", "workbench.kg", "workbench.annotate", "workbench.deploy"),
        ),
    ],
)
def test_layers_import_only_downwards(layer, never):
    assert (
        broken(
            lambda m: (
                {i for i in m.imports() if within(i, *never)} if within(m.name, layer) else set()
            )
        )
        == []
    )


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]])
def test_the_code_is_ruff_clean(command):
    """Lint and format, with the settings in pyproject.toml, over the whole tree:
    a finding fails CI (fix with `ruff check --fix . && ruff format .`)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "ruff", *command, "."],
        capture_output=True,
        text=True,
        cwd=PACKAGE.parent,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]


def test_one_task_registry_feeds_recipes_loading_and_the_engine():
    from workbench.settings import SCHEMA
    from workbench.tasks import ARCHITECTURE_SUFFIXES, REGISTRY, get_task
    from workbench.tasks.base import Task

    assert SCHEMA[""]["task"].choices == tuple(REGISTRY)
    for name in REGISTRY:
        task = get_task(name)
        assert isinstance(task, Task) and task.name == name
        assert task.default_metric in task.metrics
        # the optional hooks exist on every task, doing nothing where not needed
        assert isinstance(task.added_tokens(), list) and isinstance(task.meta(), dict)
    assert set(ARCHITECTURE_SUFFIXES.values()) <= set(REGISTRY)
    # nothing looks a task's hooks up by name any more
    assert (
        broken(
            lambda m: (
                {"hasattr(task...)"}
                if "hasattr(task" in m.path.read_text(encoding="utf-8")
                or "hasattr(exp.task" in m.path.read_text(encoding="utf-8")
                or "hasattr(self.exp.task" in m.path.read_text(encoding="utf-8")
                else set()
            )
        )
        == []
    )


def test_the_core_type_checks():
    """mypy over what pyproject.toml's [tool.mypy] names: the whole package."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary"],
        capture_output=True,
        text=True,
        cwd=PACKAGE.parent,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]


def module_graph() -> dict[str, set[str]]:
    """Each module's imports of other workbench modules, at any depth, as edges to the
    most specific module named (``from a.b import c`` is an edge to ``a.b.c`` when that
    is a module, else to ``a.b``), so a package's ``__init__`` is not a step of every
    path through it."""
    found = {m.name: m for m in modules()}
    edges: dict[str, set[str]] = {}
    for m in found.values():
        targets: set[str] = set()
        for name in m.imports():
            if name in found and name != m.name:
                targets.add(name)
        # drop a package when one of its modules is named by the same import
        edges[m.name] = {
            t for t in targets if not any(o.startswith(t + ".") and o in targets for o in targets)
        }
    return edges


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The import circles: strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_circles_are_found_where_there_are_some():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_back_through_others():
    """Imports inside functions count: a circle hidden in a function is still one."""
    assert circles(module_graph()) == []


# A file past this holds more than one job; the engine's loop is held to less.
MAX_LINES = 600
MAX_LINES_OF = {"workbench/engine/loop.py": 450}


def test_no_file_grows_past_its_size():
    too_long = []
    for m in modules():
        where = str(m.path.relative_to(PACKAGE.parent))
        lines = len(m.path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES_OF.get(where, MAX_LINES):
            too_long.append(f"{where}: {lines} lines")
    assert too_long == []
