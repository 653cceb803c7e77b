"""`workbench kg ask` on the question set written for the demo corpus
(benchmarks/kg_questions.jsonl: one- and two-hop questions and unanswerable
ones, with every correct answer from data/demo/corpus_facts.json).

A reply is right when its answer set equals the gold set (names compared
normalised), or, for an unanswerable question, when it says "I don't know".
Prints accuracy by kind, how often "I don't know" was right (its precision)
and how often it was said when it should have been (its recall), and the misses.

    python benchmarks/kg_questions.py --graph graph.sqlite
    python benchmarks/kg_questions.py --oracle   # a graph holding exactly the facts

The oracle graph separates the questions from extraction: the same questions
over a graph with every ground-truth fact and nothing else.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import tempfile
from collections import Counter
from pathlib import Path

from workbench.kg.normalize import normalize_name

HERE = Path(__file__).resolve().parent
QUESTIONS = HERE / "kg_questions.jsonl"
FACTS = HERE.parent / "data" / "demo" / "corpus_facts.json"


def _demo_data():
    """scripts/demo_data.py, which wrote the facts: its relation types are the truth."""
    spec = importlib.util.spec_from_file_location(
        "demo_data", HERE.parent / "scripts" / "demo_data.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TYPES = _demo_data().RELATION_TYPES
PHRASES = {
    "works_for": "{h} works for {t}.",
    "founded": "{h} founded {t}.",
    "based_in": "{h} is based in {t}.",
    "lives_in": "{h} lives in {t}.",
    "located_in": "{h} is a city in {t}.",
    "makes": "{h} makes the {t}.",
}


def oracle_graph(path: Path) -> None:
    """A graph with one evidence sentence per ground-truth fact."""
    from workbench.kg.store import Graph

    facts = json.loads(FACTS.read_text(encoding="utf-8"))
    with Graph.open(path) as graph:
        build = graph.ingest.begin_build("oracle", "oracle", "corpus_facts.json", {})
        for n, f in enumerate(facts):
            ht, tt = TYPES[f["type"]]
            text = PHRASES[f["type"]].format(h=f["head"], t=f["tail"])
            h, t = text.index(f["head"]), text.rindex(f["tail"])
            sentence = {
                "text": text,
                "start": 0,
                "entities": [
                    {"text": f["head"], "type": ht, "start": h, "end": h + len(f["head"])},
                    {"text": f["tail"], "type": tt, "start": t, "end": t + len(f["tail"])},
                ],
                "relations": [{"head": 0, "tail": 1, "type": f["type"], "score": 1.0}],
            }
            graph.ingest.add_document(f"fact-{n}", "corpus_facts.json", str(n), [sentence], build)
        from workbench.kg.embed import Embedder

        graph.vectors.refresh_embeddings(Embedder())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", default="graph.sqlite")
    parser.add_argument("--oracle", action="store_true", help="ask a graph of the facts alone")
    parser.add_argument("--show", type=int, default=20, help="misses to print")
    parser.add_argument(
        "--merge",
        type=float,
        metavar="SCORE",
        help="first merge (in a copy) every merge candidate scoring at least SCORE, "
        "as a person accepting kg merge-candidates would",
    )
    args = parser.parse_args()

    from workbench.kg.ask import ask
    from workbench.kg.embed import Embedder
    from workbench.kg.store import Graph

    graph_path = Path(args.graph)
    if args.oracle:
        graph_path = Path(tempfile.mkdtemp()) / "oracle.sqlite"
        oracle_graph(graph_path)
    merged = 0
    if args.merge is not None:
        import shutil

        from workbench.kg.resolution import merge_candidates

        copy = Path(tempfile.mkdtemp()) / graph_path.name
        shutil.copy(graph_path, copy)
        graph_path = copy
        with Graph.open(graph_path, create=False) as graph:
            while True:  # one at a time: a merge changes the candidates after it
                found = [c for c in merge_candidates(graph) if c["score"] >= args.merge]
                if not found:
                    break
                graph.decisions.merge(found[0]["from"]["id"], found[0]["into"]["id"])
                merged += 1
    questions = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    embedder = Embedder()
    right: Counter = Counter()
    total: Counter = Counter()
    idk_said = idk_right = 0
    misses = []
    with Graph.open(graph_path, create=False) as graph:
        for q in questions:
            reply = ask(graph, q["question"], embedder)
            got = {normalize_name(a["entity"]["name"]) for a in reply.answers}
            gold = {normalize_name(a) for a in q["answers"]}
            ok = got == gold
            total[q["kind"]] += 1
            right[q["kind"]] += ok
            if not reply.known:
                idk_said += 1
                idk_right += q["kind"] == "unanswerable"
            if not ok:
                misses.append((q, reply, got))
    print(f"graph: {'oracle (the facts alone)' if args.oracle else graph_path}")
    if args.merge is not None:
        print(f"{merged} merge candidates scoring at least {args.merge} merged first")
    print(f"{'kind':<14} {'right':>6} {'of':>4} {'accuracy':>9}")
    for kind in ("one-hop", "two-hop", "unanswerable"):
        print(f"{kind:<14} {right[kind]:>6} {total[kind]:>4} {right[kind] / total[kind]:>9.1%}")
    n = sum(total.values())
    print(f"{'all':<14} {sum(right.values()):>6} {n:>4} {sum(right.values()) / n:>9.1%}")
    if idk_said:
        print(
            f'"I don\'t know" said {idk_said} times, right {idk_right} '
            f"({idk_right / idk_said:.0%}); of {total['unanswerable']} unanswerable "
            f"questions, said for {idk_right} ({idk_right / total['unanswerable']:.0%})"
        )
    for q, reply, got in misses[: args.show]:
        print(f"\n  {q['question']}  [{q['kind']}]")
        print(f"    gold: {sorted(q['answers'])}")
        print(f"    got:  {sorted(got) or reply.reason}  ({reply.reason}; {reply.similarity:.2f})")


if __name__ == "__main__":
    main()
