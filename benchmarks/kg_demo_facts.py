"""How well a graph built from the bundled demo corpus matches that corpus's
ground truth (data/demo/corpus_facts.json): precision and recall of its
relations as (head name, type, tail name) triples, per relation type.

    python benchmarks/kg_demo_facts.py --graph graph.sqlite
(build it first: workbench kg build --ner RUN --relations RUN --corpus data/demo/corpus)
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from workbench.kg.normalize import normalize_name

FACTS = Path(__file__).resolve().parents[1] / "data" / "demo" / "corpus_facts.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", default="graph.sqlite")
    parser.add_argument("--show", type=int, default=10, help="wrong triples to print")
    args = parser.parse_args()

    from workbench.kg.store import Graph

    def key(name: str) -> str:
        return normalize_name(name)

    gold = {
        (key(f["head"]), f["type"], key(f["tail"]))
        for f in json.loads(FACTS.read_text(encoding="utf-8"))
    }
    with Graph.open(args.graph, create=False) as graph:
        names = {e["id"]: e["name"] for e in graph.queries.iter_entities()}
        found = {
            (key(names[r["head"]]), r["type"], key(names[r["tail"]]))
            for r in graph.queries.iter_relations(evidence=0)
        }
    tp, fp, fn = Counter(), Counter(), Counter()
    for triple in found:
        (tp if triple in gold else fp)[triple[1]] += 1
    for triple in gold - found:
        fn[triple[1]] += 1
    print(f"{'relation':12} {'precision':>9} {'recall':>7} {'found':>6} {'facts':>6}")
    for kind in sorted(set(tp) | set(fp) | set(fn)) + ["all"]:
        t = sum(tp.values()) if kind == "all" else tp[kind]
        f_p = sum(fp.values()) if kind == "all" else fp[kind]
        f_n = sum(fn.values()) if kind == "all" else fn[kind]
        precision = t / (t + f_p) if t + f_p else 0.0
        recall = t / (t + f_n) if t + f_n else 0.0
        print(f"{kind:12} {100 * precision:9.1f} {100 * recall:7.1f} {t + f_p:6} {t + f_n:6}")
    for triple in sorted(found - gold)[: args.show]:
        print("not a fact:", " ".join(triple))
    for triple in sorted(gold - found)[: args.show]:
        print("missed:    ", " ".join(triple))


if __name__ == "__main__":
    main()
