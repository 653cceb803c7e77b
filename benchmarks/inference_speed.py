"""Prediction speed of a trained model through the one inference path that
`workbench predict`, `workbench eval`, the Predict screen and `kg build` share
(`tasks/base.py: batched_probabilities`): batches sorted by length, no
gradients, bf16 autocast on a GPU.

Prints sentences/s for a file of sentences (batches of 32 and 64, after a
warm-up) and the median latency of one sentence of median length, against the
targets of issue 10 (under 30 ms; at least 500 sentences/s on a CPU with
MiniLM). Sentences come from WikiText (`../shared/datasets/wiki_text`) when
present, else from the bundled demo corpus.

Beside the rate, the arithmetic it stands for: real tokens/s and the encoder's
GFLOP/s (2 x the layers' weights per token, plus attention over the sentence),
against what one large fp32 matrix product reaches on this machine, the
ceiling for any fp32 encoder here. An exported model folder (`workbench export
RUN [--quantize int8]`) runs through ONNX Runtime on the same path.

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


def flops_per_token(config, tokens: int) -> float:
    """Forward FLOPs of one token of a ``tokens``-long row: the encoder's linear
    layers (2 per weight) and attention (scores and mixing, 4 x hidden x tokens)."""
    h, layers = config.hidden_size, config.num_hidden_layers
    weights = 4 * h * h + 2 * h * config.intermediate_size
    return layers * (2 * weights + 4 * h * tokens)


def matmul_gflops() -> float:
    """fp32 GFLOP/s of a large matrix product on this machine (best of three)."""
    import torch

    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    best = 0.0
    for _ in range(3):
        began = time.perf_counter()
        a @ b
        best = max(best, 2 * 2048**3 / (time.perf_counter() - began) / 1e9)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a run or model folder (NER or classification)")
    parser.add_argument("--sentences", type=int, default=1000)
    args = parser.parse_args()
    import torch

    from workbench.models.saved import load_saved

    saved = load_saved(args.run)
    task, model, tokenizer, meta = saved.task, saved.model, saved.tokenizer, saved.meta
    max_length = meta.get("max_length", 128)
    texts, source = sentences(args.sentences)
    print(
        f"{task.name} model {args.run}; {len(texts)} sentences from {source}; "
        f"{torch.get_num_threads()} threads"
    )
    lengths = [
        len(ids) for ids in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    ]
    tokens = sum(lengths)
    flops = sum(n * flops_per_token(model.config, n) for n in lengths)
    peak = matmul_gflops()
    print(
        f"  {tokens / len(texts):.1f} tokens a sentence; a 2048x2048 fp32 matmul here: "
        f"{peak:.0f} GFLOP/s"
    )
    task.predict(model, tokenizer, texts[:64], max_length, batch_size=32)  # warm-up
    for batch in (32, 64):
        began = time.perf_counter()
        task.predict(model, tokenizer, texts, max_length, batch_size=batch)
        seconds = time.perf_counter() - began
        print(
            f"  batches of {batch}: {len(texts) / seconds:.0f} sentences/s (target >= 500), "
            f"{tokens / seconds:,.0f} tokens/s, {flops / seconds / 1e9:.0f} GFLOP/s "
            f"({flops / seconds / 1e9 / peak:.0%} of the matmul's)"
        )
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
