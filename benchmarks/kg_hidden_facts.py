"""Can `kg infer` bring back facts hidden from the demo graph?

Takes a graph built from the bundled corpus (data/demo/corpus) by the demo
models, hides 20% of the corpus's ground-truth facts that the graph holds
(their relations and evidence deleted, in a copy; the mentions stay), runs
`kg infer`, and counts how many hidden facts come back in the top k
proposals, and how many of those come back with a correct explanation (a rule
chain whose every step is a ground-truth fact, or the sentence that names both
entities). Several seeds; the mean and the spread, and the same per relation
type.

``--hide-sentences`` is the harder variant: the mentions of the hidden facts'
evidence sentences go too, so no proposal can rest on the very sentence the
relation model read the fact from.

    workbench kg build --ner RUN --relations RUN --corpus data/demo/corpus
    python benchmarks/kg_hidden_facts.py --graph graph.sqlite [--seeds 5] [--hide-sentences]

Seeds 1-5 are the ones reported; 101-105 (``--first-seed 101``) were the dev
seeds on which choices were made.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from workbench.kg.infer import InferSettings, run_inference
from workbench.kg.normalize import normalize_name
from workbench.kg.store import Graph

FACTS = Path(__file__).resolve().parents[1] / "data" / "demo" / "corpus_facts.json"
KS = (5, 10, 20, 50)


def key(name: str) -> str:
    return normalize_name(name)


def hide(graph: Graph, gold: set, seed: int, share: float, sentences: bool) -> tuple[dict, int]:
    """Delete ``share`` of the true facts the graph holds (relations, evidence and,
    with ``sentences``, every mention of their evidence sentences); returns them
    (each with the texts of its evidence sentences) and how many true facts it held."""
    keys = graph.queries.entity_keys()
    held, said = {}, {}
    for r in graph.queries.iter_relations(evidence=None):
        triple = (keys[r["head"]], r["type"], keys[r["tail"]])
        if triple in gold:
            held[triple] = r["id"]
            said[triple] = {e["sentence"] for e in r["evidence"]}
    rng = random.Random(seed)
    hidden = {t: said[t] for t in rng.sample(sorted(held), round(share * len(held)))}
    ids = [(held[t],) for t in hidden]
    with graph.transaction() as g:
        conn = g.core.conn
        if sentences:
            conn.executemany(
                "DELETE FROM mentions WHERE sentence_id IN "
                "(SELECT sentence_id FROM evidence WHERE relation_id = ?)",
                ids,
            )
        conn.executemany("DELETE FROM evidence WHERE relation_id = ?", ids)
        conn.executemany("DELETE FROM relations WHERE id = ?", ids)
    return hidden, len(held)


def explained(p: dict, gold: set, sentences: set) -> bool:
    """The proposal's explanation holds: its best rule's first chain is made of
    true facts, or the sentence it quotes is one the relation model read the
    fact from (``sentences``: the hidden fact's evidence)."""
    for e in p["explanation"]:
        if e.get("kind") == "rule" and e["chains"]:
            if all(
                (key(s["head"]["name"]), s["type"], key(s["tail"]["name"])) in gold
                for s in e["chains"][0]
            ):
                return True
            break
    return any(
        e.get("kind") == "co-mention" and e.get("sentence") in sentences for e in p["explanation"]
    )


def one_seed(graph_path: Path, seed: int, share: float, sentences: bool) -> dict:
    gold = {(key(f["head"]), f["type"], key(f["tail"])) for f in json.loads(FACTS.read_text())}
    folder = Path(tempfile.mkdtemp())
    copy = folder / "hidden.sqlite"
    shutil.copy(graph_path, copy)
    with Graph.open(copy) as graph:
        hidden, graph_facts = hide(graph, gold, seed, share, sentences)
        run_inference(graph, InferSettings(min_score=0.0, limit=10_000))
        proposals = graph.decisions.inferred()
    shutil.rmtree(folder)
    ranked = []
    for p in proposals:
        triple = (key(p["head"]["name"]), p["type"], key(p["tail"]["name"]))
        ranked.append((triple, triple in hidden, explained(p, gold, hidden.get(triple, set()))))
    out = {"graph_facts": graph_facts, "hidden": len(hidden), "proposals": len(ranked)}
    for k in KS + (len(ranked),):
        top = ranked[:k]
        out[f"back@{k}"] = sum(hit for _, hit, _ in top)
        out[f"explained@{k}"] = sum(hit and ok for _, hit, ok in top)
    out["all"] = len(ranked)
    out["by_type_hidden"] = Counter(t[1] for t in hidden)
    out["by_type_back"] = Counter(t[1] for t, hit, _ in ranked if hit)
    out["by_type_back10"] = Counter(t[1] for t, hit, _ in ranked[:10] if hit)
    out["true_new"] = sum(t in gold and not hit for t, hit, _ in ranked)
    out["true_new@50"] = sum(t in gold and not hit for t, hit, _ in ranked[:50])
    return out


def report(runs: list[dict], share: float, seeds: list[int], sentences: bool) -> None:
    first = runs[0]
    print(
        f"{first['hidden']} of the graph's {first['graph_facts']} true facts hidden "
        f"({share:.0%}) per seed"
        f"{', with the mentions of their evidence sentences' if sentences else ''}; "
        f"seeds {seeds[0]}-{seeds[-1]}; proposals per seed: "
        f"{', '.join(str(r['proposals']) for r in runs)}"
    )
    print(f"{'top k':>8} {'back':>12} {'explained':>12} {'share back':>14}")
    hidden = np.array([r["hidden"] for r in runs])
    for k in KS + ("all",):
        name = k if k != "all" else "all"
        back = np.array([r[f"back@{k if k != 'all' else r['all']}"] for r in runs])
        ok = np.array([r[f"explained@{k if k != 'all' else r['all']}"] for r in runs])
        shares = back / hidden
        print(
            f"{name:>8} {back.mean():>6.1f} ± {back.std():<4.1f} {ok.mean():>6.1f} ± "
            f"{ok.std():<4.1f} {shares.mean():>7.0%} ± {shares.std():.0%}"
        )
    by_hidden: Counter = sum((r["by_type_hidden"] for r in runs), Counter())
    for what in ("by_type_back10", "by_type_back"):
        by_back: Counter = sum((r[what] for r in runs), Counter())
        print(
            f"by relation type, {'top 10' if what.endswith('10') else 'all'} (all seeds): "
            + ", ".join(f"{t} {by_back[t]}/{n}" for t, n in by_hidden.most_common())
        )
    print(
        "true facts proposed that were not hidden (the graph never had them), top 50: "
        + ", ".join(str(r["true_new@50"]) for r in runs)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", default="graph.sqlite")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--share", type=float, default=0.2)
    parser.add_argument(
        "--hide-sentences",
        action="store_true",
        help="also delete the mentions of the hidden facts' evidence sentences",
    )
    args = parser.parse_args()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    runs = [one_seed(Path(args.graph), s, args.share, args.hide_sentences) for s in seeds]
    report(runs, args.share, seeds, args.hide_sentences)


if __name__ == "__main__":
    main()
