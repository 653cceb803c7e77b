"""`workbench kg ask` on question sets about the demo corpus, with every
correct answer from data/demo/corpus_facts.json:

- ``kg_questions.jsonl``: the project's own 75 (one-hop, two-hop, unanswerable),
  split into a dev half (any threshold or model choice is made on it) and a
  test half (only reported);
- ``kg_questions_dev2.jsonl``: 150 more to make choices on, 50 facts each asked
  three ways (groups d01-d30 first, d31-d50 added later from the demo corpus),
  for paraphrase consistency;
- ``kg_questions_second.jsonl``: 120 written by someone who saw neither the
  code nor the thresholds, 40 facts each asked three ways (one-, two- and
  three-hop, unanswerable), only reported;
- ``kg_questions_meaning.jsonl``: 90 written blind whose entity is described,
  not named ("the firm whose shares rose 18 percent"): 32 entities asked two
  ways, 16 descriptions that fit several entities (right: declined with the
  candidates), 10 that fit none; "meaning-dev" for choices, "meaning-test"
  only reported. Descriptions quote the text, so they want a built graph.

A reply is right when its answer set equals the gold set (names compared
normalised), or, for an unanswerable question, when it says "I don't know".
Prints accuracy by kind, how often "I don't know" was right when said (its
precision) and said when it should have been (its recall), paraphrase
consistency (the three forms of a fact got the same reply), and the misses.

    python benchmarks/kg_questions.py --oracle          # a graph of the facts alone
    python benchmarks/kg_questions.py --graph graph.sqlite
    python benchmarks/kg_questions.py --oracle --sets dev dev2   # what choices are made on
    python benchmarks/kg_questions.py --oracle --sets second --show 0   # figures, no misses

The oracle graph separates the questions from extraction: the same questions
over a graph with every ground-truth fact and nothing else.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from workbench.kg.normalize import normalize_name

HERE = Path(__file__).resolve().parent
QUESTIONS = HERE / "kg_questions.jsonl"
SECOND = HERE / "kg_questions_second.jsonl"
DEV2 = HERE / "kg_questions_dev2.jsonl"
MEANING = HERE / "kg_questions_meaning.jsonl"
KINDS = ("one-hop", "two-hop", "three-hop", "unanswerable", "ambiguous")
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


def question_sets(names: list[str]) -> dict[str, list[dict]]:
    """The sets asked for: "dev" and "test" (halves of the project's own set),
    "second" (the independently written one)."""
    own = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    sets = {
        "dev": [q for q in own if q["split"] == "dev"],
        "test": [q for q in own if q["split"] == "test"],
        "second": [json.loads(line) for line in SECOND.read_text(encoding="utf-8").splitlines()],
        "dev2": [json.loads(line) for line in DEV2.read_text(encoding="utf-8").splitlines()],
    }
    meaning = [json.loads(line) for line in MEANING.read_text(encoding="utf-8").splitlines()]
    for split in ("dev", "test"):
        sets[f"meaning-{split}"] = [q for q in meaning if q["split"] == split]
    return {name: sets[name] for name in names}


def score(graph, questions: list[dict], embedder) -> dict:
    """Ask every question; the figures of one set."""
    from workbench.kg.ask import ask

    right: Counter = Counter()
    total: Counter = Counter()
    idk_said = idk_right = 0
    misses, replies = [], {}
    seconds = []
    for q in questions:
        started = time.perf_counter()
        reply = ask(graph, q["question"], embedder)
        seconds.append(time.perf_counter() - started)
        got = {normalize_name(a["entity"]["name"]) for a in reply.answers}
        gold = {normalize_name(a) for a in q["answers"]}
        ok = got == gold
        if q["kind"] == "ambiguous":  # declined, with the entities it may mean
            ok = not got and bool(reply.candidates)
        total[q["kind"]] += 1
        right[q["kind"]] += ok
        if not reply.known:
            idk_said += 1
            idk_right += q["kind"] in ("unanswerable", "ambiguous")
        if not ok:
            misses.append((q, reply, got))
        if "description" not in q:  # a described entity's group asks different things
            replies.setdefault(q.get("group"), []).append(frozenset(got))
    groups = [g for key, g in replies.items() if key is not None]
    return {
        "right": right,
        "total": total,
        "idk_said": idk_said,
        "idk_right": idk_right,
        "consistent": sum(len(set(g)) == 1 for g in groups),
        "groups": len(groups),
        "misses": misses,
        "seconds": sorted(seconds),
    }


def report(name: str, figures: dict, show: int) -> None:
    right, total = figures["right"], figures["total"]
    n = sum(total.values())
    tuned = "  (choices were made on this set)" if "dev" in name else ""
    print(f"\n{name}: {n} questions{tuned}")
    print(f"  {'kind':<14} {'right':>6} {'of':>4} {'accuracy':>9}")
    for kind in KINDS:
        if total[kind]:
            print(
                f"  {kind:<14} {right[kind]:>6} {total[kind]:>4} {right[kind] / total[kind]:>9.1%}"
            )
    print(f"  {'all':<14} {sum(right.values()):>6} {n:>4} {sum(right.values()) / n:>9.1%}")
    if figures["idk_said"]:
        said, ok = figures["idk_said"], figures["idk_right"]
        wanted = total["unanswerable"] + total["ambiguous"]
        print(
            f'  "I don\'t know" said {said} times, right {ok} ({ok / said:.0%}); '
            f"said for {ok} of {wanted} unanswerable or ambiguous"
        )
    if figures["groups"]:
        c, g = figures["consistent"], figures["groups"]
        print(
            f"  paraphrase consistency: {c} of {g} facts, one reply from all three forms ", end=""
        )
        print(f"({c / g:.0%})")
    seconds = figures["seconds"]
    print(
        f"  seconds a question (the model loaded): median {seconds[len(seconds) // 2]:.3f}, "
        f"slowest {seconds[-1]:.3f}"
    )
    for q, reply, got in figures["misses"][:show]:
        print(f"    {q['question']}  [{q['kind']}]")
        print(f"      gold: {sorted(q['answers'])}")
        print(f"      got:  {sorted(got) or reply.reason}")
        if got:
            print(f"            ({reply.reason}; {reply.similarity:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", default="graph.sqlite")
    parser.add_argument("--oracle", action="store_true", help="ask a graph of the facts alone")
    parser.add_argument(
        "--sets",
        nargs="+",
        default=["test", "second"],
        choices=("dev", "dev2", "test", "second", "meaning-dev", "meaning-test"),
        help="which questions (default: the reported ones, test and second)",
    )
    parser.add_argument("--show", type=int, default=20, help="misses to print per set")
    parser.add_argument(
        "--merge",
        type=float,
        metavar="SCORE",
        help="first merge (in a copy) every merge candidate scoring at least SCORE, "
        "as a person accepting kg merge-candidates would",
    )
    args = parser.parse_args()

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
    embedder = Embedder()
    print(f"graph: {'oracle (the facts alone)' if args.oracle else args.graph}")
    if args.merge is not None:
        print(f"{merged} merge candidates scoring at least {args.merge} merged first")
    with Graph.open(graph_path, create=False) as graph:
        started = time.perf_counter()
        from workbench.kg.question_model import for_graph

        for_graph(graph, embedder)
        print(f"question model ready in {time.perf_counter() - started:.1f} s")
        for name, questions in question_sets(args.sets).items():
            report(name, score(graph, questions, embedder), args.show)


if __name__ == "__main__":
    main()
