"""Prediction speed of a trained model through the one inference path that
`workbench predict`, `workbench eval`, the Predict screen and `kg build` share
(`tasks/base.py: batched_probabilities`): batches sorted by length, no
gradients, bf16 autocast on a GPU.

Prints sentences/s for a file of sentences (batches of 32 and 64, after a
warm-up) and the median latency of one sentence of median length, against the
targets of issue 10 (under 30 ms; at least 500 sentences/s on a CPU with
MiniLM). Sentences come from WikiText (`../shared/datasets/wiki_text`) when
present, else from the bundled demo corpus.

    python benchmarks/inference_speed.py RUN [--sentences 1000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sentences(count: int) -> tuple[list[str], str]:
    from workbench.kg.corpus import read_corpus, split_sentences

    wiki = ROOT.parent / "shared" / "datasets" / "wiki_text" / "wiki.valid.raw"
    source = wiki if wiki.is_file() else ROOT / "data" / "demo" / "corpus"
    found: list[str] = []
    for document in read_corpus(source):
        spans = split_sentences(document.text)
        found += [
            t
            for t in (document.text[a:b].strip() for a, b in spans)
            if len(t.split()) >= 4 and not t.startswith("=")
        ]
        if len(found) >= count:
            break
    return found[:count], str(source)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a run or model folder (NER or classification)")
    parser.add_argument("--sentences", type=int, default=1000)
    args = parser.parse_args()
    import torch

    from workbench.models import load_saved

    task, model, tokenizer, meta = load_saved(args.run)
    max_length = meta.get("max_length", 128)
    texts, source = sentences(args.sentences)
    print(
        f"{task.name} model {args.run}; {len(texts)} sentences from {source}; "
        f"{torch.get_num_threads()} threads"
    )
    task.predict(model, tokenizer, texts[:64], max_length, batch_size=32)  # warm-up
    for batch in (32, 64):
        began = time.perf_counter()
        task.predict(model, tokenizer, texts, max_length, batch_size=batch)
        rate = len(texts) / (time.perf_counter() - began)
        print(f"  batches of {batch}: {rate:.0f} sentences/s (target >= 500)")
    one = sorted(texts, key=len)[len(texts) // 2]
    times = []
    for _ in range(30):
        began = time.perf_counter()
        task.predict(model, tokenizer, [one], max_length, batch_size=1)
        times.append(time.perf_counter() - began)
    print(
        f"  one sentence of {len(one.split())} words: median {1000 * statistics.median(times):.1f}"
        f" ms (target < 30)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
