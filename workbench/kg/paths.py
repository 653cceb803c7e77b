"""Shortest chains between two entities: a bidirectional breadth-first search
that asks for one frontier's edges at a time, so it never loads the graph.

Edges are walked in either direction (a chain may go against a relation);
the caller gets each step with the direction it was walked in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import NamedTuple


class Edge(NamedTuple):
    id: int
    head: int
    tail: int
    type: str
    score: float


class Step(NamedTuple):
    source: int
    edge: Edge
    target: int

    @property
    def forward(self) -> bool:
        """Walked from the relation's head to its tail."""
        return self.edge.head == self.source


Expand = Callable[[set[int]], Iterable[Edge]]


def shortest_chains(expand: Expand, a: int, b: int, max_hops: int, limit: int) -> list[list[Step]]:
    """Up to ``limit`` chains of minimal length (at most ``max_hops``) from a to b.

    ``expand(nodes)`` returns every edge touching any of ``nodes``. Each side
    keeps, for every node it reached, all its parents at the minimal depth, so
    every shortest chain is found, parallel relations included. The smaller
    frontier is expanded each round, which keeps the rows read near the
    square root of what a one-sided search would read.
    """
    if a == b or limit < 1 or max_hops < 1:
        return []
    # parents[side][node]: the (previous node, edge) pairs reaching node at its depth.
    parents: list[dict[int, list[tuple[int, Edge]]]] = [{a: []}, {b: []}]
    frontier: list[set[int]] = [{a}, {b}]
    depth = [0, 0]
    while depth[0] + depth[1] < max_hops and frontier[0] and frontier[1]:
        side = 0 if len(frontier[0]) <= len(frontier[1]) else 1
        reached: dict[int, list[tuple[int, Edge]]] = {}
        for edge in expand(frontier[side]):
            for node, nxt in ((edge.head, edge.tail), (edge.tail, edge.head)):
                if node in frontier[side] and nxt not in parents[side]:
                    reached.setdefault(nxt, []).append((node, edge))
        parents[side].update(reached)
        frontier[side] = set(reached)
        depth[side] += 1
        # The first round where the sides touch gives the shortest length;
        # every meeting node then lies exactly depth[other] from the other end.
        meeting = sorted(n for n in reached if n in parents[1 - side])
        if meeting:
            candidates = list(islice(_joined(parents, meeting), max(limit * 4, 50)))
            # Prefer chains of confident relations among equally short ones.
            candidates.sort(key=lambda chain: -min(step.edge.score for step in chain))
            return candidates[:limit]
    return []


def _joined(parents, meeting: list[int]) -> Iterator[list[Step]]:
    for node in meeting:
        for left in _chains_to(parents[0], node):
            for right in _chains_to(parents[1], node):
                # right runs b -> node; walk it back as node -> b.
                back = [Step(s.target, s.edge, s.source) for s in reversed(right)]
                yield left + back


def _chains_to(parents: dict[int, list[tuple[int, Edge]]], node: int) -> Iterator[list[Step]]:
    """Every chain from the side's root to ``node`` through minimal-depth parents."""
    if not parents[node]:
        yield []
        return
    for previous, edge in parents[node]:
        for chain in _chains_to(parents, previous):
            yield chain + [Step(previous, edge, node)]
