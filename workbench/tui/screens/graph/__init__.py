"""The Graph screen (``workbench kg build``'s graph, browsed): search entities by
name or by meaning, walk their relations, read their mentions, find chains between
two, ask questions, review what reasoning inferred (accept or reject it) and what
may be one entity twice (merge it), and build or update the graph.

``screen`` holds the screen; each pane is a widget of its own module (``stats``,
``search``, ``entity``, ``paths``, ``ask``, ``build``, ``merges``) on ``common``'s
``GraphPane``, whose worker threads hand results back as messages.
"""

from workbench.tui.screens.graph.screen import GraphScreen

__all__ = ["GraphScreen"]
