"""The Graph screen driven with Textual's Pilot: search, entity detail, hops and
back, paths, a missing graph, hostile search text, a small terminal, (once)
search by meaning with the bundled encoder, and the build pane's fields (Tab
between them, the focus after a failed build)."""

from __future__ import annotations

import asyncio

from textual.widgets import Input, ProgressBar, Static

from helpers.graph_screen import (
    SIZE,
    build_graph,
    open_entity,
    open_graph,
    result_names,
    results,
    tree_labels,
)
from helpers.tui import app_for, footer_keys, text_of, wait_for
from workbench.tui.screens.graph import GraphScreen

FIELDS = ("ner", "relations", "corpus")  # the build pane's, in order


def test_search_by_name_shows_the_entity(tmp_path):
    graph = build_graph(tmp_path / "graph.sqlite")

    async def scenario():
        async with app_for(tmp_path, graph_path=graph).run_test(size=SIZE) as pilot:
            screen = await open_graph(pilot)
            stats = text_of(screen.query_one("#graph-stats"))
            # kg stats' counts line, then the types on a line each (the pane is narrow)
            assert "2 documents · 4 sentences · 9 mentions" in stats
            assert "5 entities · 4 relations · 5 evidence" in stats
            assert "entity type: ORG 2" in stats and "relation type: " in stats
            await pilot.press(*"kestrel")
            await wait_for(
                pilot, lambda: result_names(screen) == ["Kestrel Analytics"], what="one result"
            )
            assert results(screen) == ["Kestrel Analytics\nORG · 3 mentions · 2 relations"]
            assert "1 entities for 'kestrel' by name" in text_of(screen.query_one("#graph-status"))

    asyncio.run(scenario())


def test_an_entity_shows_its_relations_and_highlighted_mentions(tmp_path):
    graph = build_graph(tmp_path / "graph.sqlite")

    async def scenario():
        async with app_for(tmp_path, graph_path=graph).run_test(size=SIZE) as pilot:
            screen = await open_graph(pilot)
            await open_entity(pilot, screen, "kestrel", "Kestrel Analytics")
            assert tree_labels(screen) == [
                "—based_in→ (1 out)",
                "  Porto LOC · 0.80 · 2×",
                "←works_for— (1 in)",
                "  Maria Lindqvist PER · 0.80 · 1×",
            ]
            head = text_of(screen.query_one("#entity-head"))
            assert "Kestrel Analytics  ORG · 3 mentions · 2 relations" in head
            mentions = screen.query_one("#mentions", Static).content
            assert "news/a.txt: Kestrel Analytics is based in Porto." in mentions.plain
            marked = {
                mentions.plain[s.start : s.end] for s in mentions.spans if "reverse" in str(s.style)
            }
            assert marked == {"Kestrel Analytics"}
            assert screen.focused is screen.query_one("#entity-tree")

    asyncio.run(scenario())


def test_hop_to_a_neighbour_and_back(tmp_path):
    graph = build_graph(tmp_path / "graph.sqlite")

    async def scenario():
        async with app_for(tmp_path, graph_path=graph).run_test(size=SIZE) as pilot:
            screen = await open_graph(pilot)
            await open_entity(pilot, screen, "kestrel", "Kestrel Analytics")
            await pilot.press("enter")  # the cursor starts on the first neighbour: Porto
            await wait_for(pilot, lambda: screen.current_name == "Porto", what="Porto")
            assert tree_labels(screen) == [
                "←based_in— (2 in)",
                "  Kestrel Analytics ORG · 0.80 · 2×",
                "  Nordwind ORG · 0.80 · 1×",
            ]
            await pilot.press("down", "enter")  # Porto ←based_in— Nordwind
            await wait_for(pilot, lambda: screen.current_name == "Nordwind", what="Nordwind")
            await pilot.press("backspace")
            await wait_for(pilot, lambda: screen.current_name == "Porto", what="back to Porto")
            await pilot.press("escape")
            await wait_for(
                pilot, lambda: screen.current_name == "Kestrel Analytics", what="back to Kestrel"
            )
            await pilot.press("escape")  # nothing before: the statistics
            await wait_for(pilot, lambda: screen.current is None, what="statistics")
            assert screen.query_one("#graph-detail").current == "stats-pane"

    asyncio.run(scenario())


def test_path_from_here_shows_the_chain(tmp_path):
    graph = build_graph(tmp_path / "graph.sqlite")

    async def scenario():
        async with app_for(tmp_path, graph_path=graph).run_test(size=SIZE) as pilot:
            screen = await open_graph(pilot)
            await open_entity(pilot, screen, "maria", "Maria Lindqvist")
            await pilot.press("p", *"Jon Berg", "enter")
            paths = screen.query_one("#paths", Static)
            await wait_for(pilot, lambda: "Jon" in text_of(paths), what="the chain")
            assert (
                "Maria Lindqvist (PER) —works_for→ Kestrel Analytics (ORG) —based_in→ Porto "
                "(LOC) ←based_in— Nordwind (ORG) ←works_for— Jon Berg (PER)"
            ) in text_of(paths)
            await pilot.press("escape")  # closes the path finder
            assert screen.query_one("#graph-detail").current == "entity-pane"
            # An unknown name is one line, not a traceback.
            await pilot.press("p", "ctrl+u", *"Nobody", "enter")
            status = screen.query_one("#graph-status")
            await wait_for(pilot, lambda: "✖" in text_of(status), what="the error")
            assert "Nobody" in text_of(status)

    asyncio.run(scenario())


def test_missing_graph_says_how_to_build_one(tmp_path):
    missing = tmp_path / "nothing.sqlite"

    async def scenario():
        async with app_for(tmp_path, graph_path=missing).run_test(size=SIZE) as pilot:
            screen = await open_graph(pilot, exists=False)
            hint = text_of(screen.query_one("#graph-stats"))
            assert "workbench kg build --ner RUN --relations RUN --corpus PATH" in hint
            await pilot.press(*"porto", "enter")
            await pilot.pause(0.5)
            assert "No graph at" in text_of(screen.query_one("#graph-status"))
            assert pilot.app.is_running
        assert not missing.exists()  # looking never creates an empty graph

    asyncio.run(scenario())


def test_a_graph_built_while_the_screen_is_open_shows_up(tmp_path):
    later = tmp_path / "later.sqlite"

    async def scenario():
        async with app_for(tmp_path, graph_path=later).run_test(size=SIZE) as pilot:
            screen = await open_graph(pilot, exists=False)
            assert "No graph at" in text_of(screen.query_one("#graph-stats"))
            assert "no graph yet" in text_of(screen.query_one("#graph-status"))
            build_graph(later)  # `workbench kg build` in another terminal
            await wait_for(
                pilot,
                lambda: "4 sentences" in text_of(screen.query_one("#graph-stats")),
                5,
                "the new statistics",
            )
            assert "5 entities" in text_of(screen.query_one("#graph-title"))
            assert "no graph yet" not in text_of(screen.query_one("#graph-status"))
            await pilot.press(*"porto")
            await wait_for(pilot, lambda: result_names(screen) == ["Porto"], what="a hit")

    asyncio.run(scenario())


def test_in_a_text_field_the_footer_shows_the_keys_that_work_there(tmp_path):
    graph = build_graph(tmp_path / "graph.sqlite")

    async def scenario():
        async with app_for(tmp_path, graph_path=graph).run_test(size=SIZE) as pilot:
            screen = await open_graph(pilot)
            assert isinstance(pilot.app.focused, Input)  # the search box
            keys = footer_keys(pilot.app)
            assert {"F1", "F2", "F3", "F4"} <= keys and "1" not in keys
            await pilot.press(*"4")  # typed into the box, as the footer now says
            assert screen.query_one("#graph-search", Input).value == "4"
            await pilot.press("f2")
            assert not isinstance(pilot.app.screen, GraphScreen)
            keys = footer_keys(pilot.app)
            assert "2" in keys and "F2" not in keys  # not in a text field: the digit

    asyncio.run(scenario())


def test_hostile_search_text_is_one_line_and_the_app_goes_on(tmp_path):
    graph = build_graph(tmp_path / "graph.sqlite")

    async def scenario():
        async with app_for(tmp_path, graph_path=graph).run_test(size=SIZE) as pilot:
            screen = await open_graph(pilot)
            status = screen.query_one("#graph-status")
            for nasty in ('"kest* OR (', "'; DROP TABLE entities; --", "NEAR(a b", "*", "^-:"):
                search = screen.query_one("#graph-search")
                search.value = ""
                await pilot.pause()
                await pilot.press(*nasty)
                await wait_for(pilot, lambda: text_of(status).strip(), what=nasty)
                line = text_of(status).strip()
                assert "\n" not in line and "Traceback" not in line, line
                assert line.startswith("✖") or "entities for" in line, line
            screen.query_one("#graph-search").value = ""
            await pilot.press(*"porto")
            await wait_for(pilot, lambda: result_names(screen) == ["Porto"], what="Porto")

    asyncio.run(scenario())


def test_readable_at_80x24(tmp_path):
    graph = build_graph(tmp_path / "graph.sqlite")

    async def scenario():
        async with app_for(tmp_path, graph_path=graph).run_test(size=(80, 24)) as pilot:
            screen = await open_graph(pilot)
            await open_entity(pilot, screen, "kestrel", "Kestrel Analytics")
            results = screen.query_one("#graph-results").region
            tree = screen.query_one("#entity-tree").region
            mentions = screen.query_one("#entity-mentions").region
            assert results.width >= 28 and tree.x >= results.right
            assert tree.height >= 5 and mentions.height >= 5 and mentions.bottom <= 23
            assert tree.width >= 40
            # Every key of the footer fits, Quit included.
            footer = list(screen.query("FooterKey"))
            assert footer and all(key.region.right <= 80 for key in footer)
            assert {"q", "?", "m", "b", "p"} <= footer_keys(pilot.app)
            await pilot.press("p")
            assert screen.query_one("#path-to").region.width >= 15

    asyncio.run(scenario())


def test_search_by_meaning_with_the_bundled_encoder(tmp_path):
    from workbench.kg.embed import Embedder

    graph = build_graph(tmp_path / "graph.sqlite", embedder=Embedder())

    async def scenario():
        async with app_for(tmp_path, graph_path=graph).run_test(size=SIZE) as pilot:
            screen = await open_graph(pilot)
            shown = []  # every status line, the brief "loading encoder…" included
            status = screen._status
            screen._status = lambda text, error=False: (
                shown.append(str(text)),
                status(text, error),
            )
            await pilot.press("ctrl+t")
            await pilot.press(*"a city")
            await wait_for(pilot, lambda: screen.embedder is not None, 120, "the encoder")
            await wait_for(pilot, lambda: screen.results, what="results")
            assert " · score " in results(screen)[0]
            assert "by meaning" in text_of(screen.query_one("#graph-title"))
            shown = [line for line in shown if line]
            assert shown[0] == "loading encoder…" and shown[1].startswith("encoder loaded")

    asyncio.run(scenario())


async def open_build_pane(pilot, exists: bool = True) -> GraphScreen:
    """The Graph screen's build pane, its NER field focused."""
    screen = await open_graph(pilot, exists=exists)
    await pilot.press("escape", "b")  # out of the search box, then b
    await wait_for(pilot, lambda: screen.query_one("#graph-detail").current == "build-pane")
    await wait_for(pilot, lambda: pilot.app.focused is screen.query_one("#build-ner"))
    return screen


def test_tab_moves_between_the_build_fields_and_stays_in_the_pane(tmp_path):
    graph = build_graph(tmp_path / "graph.sqlite")

    async def scenario():
        async with app_for(tmp_path, graph_path=graph).run_test(size=SIZE) as pilot:
            screen = await open_build_pane(pilot)
            fields = [screen.query_one(f"#build-{name}", Input) for name in FIELDS]
            for field in fields:  # start empty, so typing shows where the keys went
                field.value = ""
            await pilot.press(*"my-ner", "tab")
            assert pilot.app.focused is fields[1]
            await pilot.press("tab")
            assert pilot.app.focused is fields[2]
            await pilot.press(*"corpus/", "tab")  # past the last field: the first again,
            assert pilot.app.focused is fields[0]  # not the log below nor the search box
            await pilot.press("shift+tab")
            assert pilot.app.focused is fields[2]
            assert [field.value for field in fields] == ["my-ner", "", "corpus/"]

    asyncio.run(scenario())


def test_a_failed_build_keeps_the_focus_on_the_field_at_fault(tmp_path):
    """Real `kg build` child processes that fail before loading a model: an unknown
    NER run, then a missing corpus (the NER "run" a folder with a model's config)."""
    graph = build_graph(tmp_path / "graph.sqlite")
    model = tmp_path / "ner-model"
    model.mkdir()
    (model / "config.json").write_text('{"architectures": ["BertForTokenClassification"]}')

    async def scenario():
        async with app_for(tmp_path, graph_path=graph).run_test(size=SIZE) as pilot:
            screen = await open_build_pane(pilot)
            status = screen.query_one("#graph-status")
            for fault, wrong, values in (
                ("ner", "no-such-run", ["no-such-run", "", str(tmp_path)]),
                ("corpus", str(tmp_path / "nothing"), [str(model), "", str(tmp_path / "nothing")]),
            ):
                fields = [screen.query_one(f"#build-{name}", Input) for name in FIELDS]
                for field, value in zip(fields, values):
                    field.value = value
                (fields[0] if fault == "corpus" else fields[2]).focus()  # Enter elsewhere
                await pilot.press("enter")
                # Started: still running, or (a fast child on a busy machine) already
                # failed with its own reason; a launch that failed says "cannot start".
                started = screen.building is not None or "the build failed" in text_of(status)
                assert started, text_of(status)
                await wait_for(pilot, lambda: screen.building is None, 60, "the build's end")
                await wait_for(pilot, lambda: "the build failed" in text_of(status))
                assert wrong in text_of(status)
                assert screen.query_one("#graph-detail").current == "build-pane"
                fault_field = screen.query_one(f"#build-{fault}")
                await wait_for(pilot, lambda f=fault_field: pilot.app.focused is f, 5, fault)

    asyncio.run(scenario())


def test_a_build_with_a_field_missing_focuses_that_field(tmp_path):
    async def scenario():
        missing = tmp_path / "nothing.sqlite"
        async with app_for(tmp_path, graph_path=missing).run_test(size=SIZE) as pilot:
            screen = await open_build_pane(pilot, exists=False)
            await pilot.press(*"some-ner", "enter")  # no corpus given
            assert "corpus: needed for a build" in text_of(screen.query_one("#graph-status"))
            assert pilot.app.focused is screen.query_one("#build-corpus")
            assert screen.building is None

    asyncio.run(scenario())


def test_a_build_is_followed_to_its_summary(tmp_path, monkeypatch):
    """The build pane with a stand-in for the `kg build --events` child (the real one
    is test_tui_graph_reasoning's slow test): its progress, its summary, then the
    statistics read again."""
    import json

    from workbench.kg.build import BuildProgress, end_event

    graph = build_graph(tmp_path / "graph.sqlite")
    started: list[list[str]] = []

    class FinishedBuild:
        returncode = 0

        def __init__(self, argv: list[str]):
            started.append(argv)
            summary = {"added": 3, "replaced": 1, "skipped": 2, "removed": 0, "seconds": 1.5}
            self.lines = [
                json.dumps(BuildProgress(2, 4, 1.0).event()),
                json.dumps(BuildProgress(4, 4, 1.5).event()),
                json.dumps(end_event(summary)),
            ]

        def read_output(self) -> list[str]:
            lines, self.lines = self.lines, []
            return lines

        def error(self) -> None:
            return None

    monkeypatch.setattr("workbench.runs.launch.LaunchedProcess", FinishedBuild)

    async def scenario():
        async with app_for(tmp_path, graph_path=graph).run_test(size=SIZE) as pilot:
            screen = await open_build_pane(pilot)
            # The fields start as the last build's.
            values = [screen.query_one(f"#build-{name}", Input).value for name in FIELDS]
            assert values == ["ner-run", "relation-run", "news"]
            screen.stats = None
            await pilot.press("enter")

            def read_again() -> bool:
                # The build's summary, then the statistics read after it (the file
                # watch may read them on its own before the build is done).
                log = text_of(screen.query_one("#build-log"))
                return "built in 1.5 s" in log and screen.stats is not None

            await wait_for(pilot, read_again, 10, "the summary, then the statistics")
            assert started == [
                ["kg", "build", "--ner", "ner-run", "--corpus", "news", "--graph", str(graph)]
                + ["--relations", "relation-run", "--events"]
            ]
            assert screen.building is None
            log = text_of(screen.query_one("#build-log"))
            assert "built in 1.5 s: 2 new, 1 replaced, 2 unchanged, 0 removed documents" in log
            bar = screen.query_one("#build-progress", ProgressBar)
            assert bar.progress == bar.total == 4
            status = text_of(screen.query_one("#graph-status"))
            assert "built; the statistics are read again" in status
            assert pilot.app.focused is screen.query_one("#build-ner")  # still in the pane

    asyncio.run(scenario())
