"""How `kg infer`'s rules scale: mining, scoring and explaining the kept
proposals on synthetic graphs of growing size (a world like the demo's: people
work for companies, companies are based in cities, people mostly live where
their employer is), with time and peak memory for each size.

    python benchmarks/kg_infer_scale.py [--sizes 1000 10000 100000]
"""

from __future__ import annotations

import argparse
import random
import resource
import time

from workbench.kg import rules as kg_rules


def world(people: int, seed: int = 0) -> list[tuple[int, str, int]]:
    rng = random.Random(seed)
    companies = max(people // 20, 2)
    cities = max(people // 500, 2)
    c0, city0 = people, people + companies
    triples = []
    based = {c: city0 + rng.randrange(cities) for c in range(c0, c0 + companies)}
    triples += [(c, "based_in", city) for c, city in based.items()]
    for p in range(people):
        employer = c0 + rng.randrange(companies)
        triples.append((p, "works_for", employer))
        if rng.random() < 0.8:  # a fifth of the homes are unknown: the rules' work
            home = based[employer] if rng.random() < 0.7 else city0 + rng.randrange(cities)
            triples.append((p, "lives_in", home))
        if rng.random() < 0.05:
            triples.append((p, "founded", c0 + rng.randrange(companies)))
    return triples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1_000, 10_000, 100_000])
    parser.add_argument("--keep", type=int, default=500, help="proposals explained")
    args = parser.parse_args()
    print(
        f"{'people':>8} {'entities':>9} {'facts':>8} {'rules':>6} {'mine s':>7} "
        f"{'predict s':>10} {'explain s':>10} {'proposals':>10} {'peak RSS MiB':>13}"
    )
    for people in args.sizes:
        triples = world(people)
        index = kg_rules.TripleIndex(triples)
        started = time.perf_counter()
        mined = kg_rules.mine_rules(index)
        mined_s = time.perf_counter() - started
        started = time.perf_counter()
        predictions = kg_rules.predict(index, mined)
        predict_s = time.perf_counter() - started
        started = time.perf_counter()
        for p in predictions[: args.keep]:
            for rule in kg_rules.fired(index, mined, p)[:3]:
                kg_rules.groundings(index, rule, p.head, p.tail, 3)
        explain_s = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{people:>8,} {len(index.entities):>9,} {len(triples):>8,} {len(mined):>6} "
            f"{mined_s:>7.1f} {predict_s:>10.1f} {explain_s:>10.1f} {len(predictions):>10,} "
            f"{peak:>13,.0f}"
        )


if __name__ == "__main__":
    main()
