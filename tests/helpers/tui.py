"""Driving the TUI with Pilot (shared by the TUI test files)."""

from __future__ import annotations

from pathlib import Path


def text_of(widget) -> str:
    """What a Static shows, as plain text."""
    import io

    from rich.console import Console

    console = Console(width=200, color_system=None, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


async def wait_for(pilot, predicate, timeout: float = 90.0, what: str = "") -> None:
    """Let the app run until ``predicate()`` holds; fail after ``timeout`` seconds,
    saying what was awaited and on which screen."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError(
        f"timed out waiting for {what or predicate} on {pilot.app.screen}: "
        f"{getattr(pilot.app.screen, '__dict__', {}).get('state')}"
    )


def app_for(folder: Path, **kwargs):
    """The workbench on ``folder``: runs in folder/runs, recipes in ``folder`` (or
    ``recipes_dir``), other settings as given."""
    from workbench.tui.app import WorkbenchApp

    kwargs.setdefault("recipes_dir", folder)
    return WorkbenchApp(runs_dir=folder / "runs", **kwargs)


def footer_keys(app) -> set[str]:
    """The keys the footer shows on the current screen, as it shows them."""
    return {
        app.get_key_display(b.binding)
        for b in app.screen.active_bindings.values()
        if b.binding.show and b.enabled
    }


async def opened_annotate(pilot):
    """The Annotate screen once its queue is read."""
    from workbench.tui.screens.annotate import AnnotateScreen

    screen = pilot.app.screen
    assert isinstance(screen, AnnotateScreen)
    await wait_for(pilot, lambda: screen.session is not None, 30, "the queue")
    await pilot.pause()
    return screen
