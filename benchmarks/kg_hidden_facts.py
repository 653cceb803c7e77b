"""Can `kg infer` bring back facts hidden from the demo graph?

Takes a graph built from the bundled corpus (data/demo/corpus) by the demo
models, hides 20% of the corpus's ground-truth facts that the graph holds
(their relations and evidence deleted, in a copy), runs the rules, and counts
how many hidden facts come back in the top k proposals, and how many of those
come back with a correct explanation (every step of the chain that fired the
best rule is itself a ground-truth fact). Several seeds; the mean and the
spread, and the same per relation type.

    workbench kg build --ner RUN --relations RUN --corpus data/demo/corpus
    python benchmarks/kg_hidden_facts.py --graph graph.sqlite [--seeds 5]
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


def one_seed(graph_path: Path, seed: int, share: float) -> dict:
    gold = {(key(f["head"]), f["type"], key(f["tail"])) for f in json.loads(FACTS.read_text())}
    folder = Path(tempfile.mkdtemp())
    copy = folder / "hidden.sqlite"
    shutil.copy(graph_path, copy)
    with Graph.open(copy) as graph:
        keys = graph.queries.entity_keys()
        held = {}
        for r in graph.queries.iter_relations(evidence=0):
            triple = (keys[r["head"]], r["type"], keys[r["tail"]])
            if triple in gold:
                held[triple] = r["id"]
        rng = random.Random(seed)
        hidden = set(rng.sample(sorted(held), round(share * len(held))))
        with graph.transaction() as g:
            g.core.conn.executemany(
                "DELETE FROM relations WHERE id = ?", [(held[t],) for t in hidden]
            )
        run_inference(graph, InferSettings(min_score=0.0, limit=10_000))
        proposals = graph.decisions.inferred()
    shutil.rmtree(folder)
    ranked = []
    for p in proposals:
        triple = (key(p["head"]["name"]), p["type"], key(p["tail"]["name"]))
        rule = next((e for e in p["explanation"] if e.get("kind") == "rule"), None)
        chain = rule["chains"][0] if rule and rule["chains"] else []
        explained = bool(chain) and all(
            (key(s["head"]["name"]), s["type"], key(s["tail"]["name"])) in gold for s in chain
        )
        ranked.append((triple, triple in hidden, explained))
    out = {"graph_facts": len(held), "hidden": len(hidden), "proposals": len(ranked)}
    for k in KS + (len(ranked),):
        top = ranked[:k]
        out[f"back@{k}"] = sum(hit for _, hit, _ in top)
        out[f"explained@{k}"] = sum(hit and ok for _, hit, ok in top)
    out["all"] = len(ranked)
    out["by_type_hidden"] = Counter(t[1] for t in hidden)
    out["by_type_back"] = Counter(t[1] for t, hit, _ in ranked if hit)
    out["true_new"] = sum(t in gold and not hit for t, hit, _ in ranked)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", default="graph.sqlite")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--share", type=float, default=0.2)
    args = parser.parse_args()
    runs = [one_seed(Path(args.graph), seed, args.share) for seed in range(args.seeds)]
    first = runs[0]
    print(
        f"{first['graph_facts']} ground-truth facts in the graph; {first['hidden']} hidden "
        f"({args.share:.0%}) per seed; {args.seeds} seeds; proposals per seed: "
        f"{', '.join(str(r['proposals']) for r in runs)}"
    )
    print(f"{'top k':>8} {'back':>12} {'explained':>12} {'share back':>11}")
    for k in KS:
        back = np.array([r[f"back@{k}"] for r in runs])
        explained = np.array([r[f"explained@{k}"] for r in runs])
        hidden = np.array([r["hidden"] for r in runs])
        print(
            f"{k:>8} {back.mean():>6.1f} ± {back.std():<4.1f} {explained.mean():>6.1f} ± "
            f"{explained.std():<4.1f} {np.mean(back / hidden):>10.0%}"
        )
    back = np.array([r[f"back@{r['all']}"] for r in runs])
    hidden = np.array([r["hidden"] for r in runs])
    print(
        f"{'all':>8} {back.mean():>6.1f} ± {back.std():<4.1f} {'':>12} "
        f"{np.mean(back / hidden):>10.0%}"
    )
    by_hidden: Counter = sum((r["by_type_hidden"] for r in runs), Counter())
    by_back: Counter = sum((r["by_type_back"] for r in runs), Counter())
    print(
        "by relation type (all seeds): "
        + ", ".join(f"{t} {by_back[t]}/{n}" for t, n in by_hidden.most_common())
    )


if __name__ == "__main__":
    main()
