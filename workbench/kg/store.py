"""The knowledge graph file: class Graph over SQLite (schema in kg/schema.py).

Graph opens and closes the file and groups writes into transactions; what it
does with the file lives in parts, one module and class each, attached to it:

- ``graph.ingest`` (kg/ingest.py): builds, documents, sentences and mentions;
- ``graph.vectors`` (kg/vectors.py): entity embeddings and search by meaning;
- ``graph.queries`` (kg/queries.py): search by name, entities, neighbours,
  paths, counts, export;
- ``graph.decisions`` (kg/decisions.py): merges, splits, reasoning's proposals
  and people's judgements of them.

They share one GraphCore (kg/core.py, ``graph.core``): the connection, the write
transaction, and the bookkeeping more than one of them needs. What only
``kg ask`` reads is beside it, in kg/ask_support.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from workbench.kg.core import GraphCore
from workbench.kg.decisions import Decisions
from workbench.kg.ingest import Ingest
from workbench.kg.queries import Queries
from workbench.kg.schema import connect
from workbench.kg.vectors import Vectors


class Graph:
    """One graph file. Open with ``Graph.open(path)``; use as a context manager.

    One Graph is meant for one thread at a time; several processes may open
    the same file (WAL: readers do not block the writer).
    """

    def __init__(self, core: GraphCore):
        self.core = core
        self.decisions = Decisions(core)
        self.ingest = Ingest(core, self.decisions)
        self.vectors = Vectors(core)
        self.queries = Queries(core, self.decisions)

    @property
    def path(self) -> Path:
        """The graph file."""
        return self.core.path

    @classmethod
    def open(cls, path: str | Path, create: bool = True) -> Graph:
        """Open a graph file; ``create=False`` makes a missing file a WorkbenchError."""
        path = Path(path).expanduser()
        return cls(GraphCore(path, connect(path, create)))

    def close(self) -> None:
        """Close the connection (safe to call twice)."""
        self.core.conn.close()  # sqlite3 lets it close twice

    def __enter__(self) -> Graph:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[Graph]:
        """Group many writes (say, a few hundred ingest.add_document calls) into one
        transaction: much faster than one commit each. If anything inside
        fails, all of it is rolled back."""
        with self.core.write():
            yield self
