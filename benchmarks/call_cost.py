"""What a forward and backward call of the bundled MiniLM costs by batch shape:
why training packs sentences into rows no longer than the longest one.

One model, random token ids, the shapes interleaved over several repetitions
(this machine drifts), the median printed per shape with ms per token:

- 16 x 46: a random CoNLL-2003 batch of 16 padded to its longest sentence;
- 16 x 20: the same tokens with no padding (what packing nearly reaches);
- 6 x 54 with a block mask: about 323 tokens packed into rows;
- 1 x 323: every sentence in one row (attention over the long row costs more
  than the padding it saves);
- 2 x 160, 8 x 40: other layouts of the same tokens;
- 1 x 1: the fixed cost of a call (most of it the embedding matrix's gradient).

    python benchmarks/call_cost.py [--repeats 5] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

SHAPES = [(16, 46, 1), (16, 20, 1), (6, 54, 6), (1, 323, 1), (2, 160, 1), (8, 40, 1), (1, 1, 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: its default)")
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForTokenClassification

    from workbench.models.pretrained import quiet_transformers, resolve_model

    quiet_transformers()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = AutoModelForTokenClassification.from_pretrained(resolve_model("minilm"), num_labels=9)
    model.train()

    def call(rows: int, length: int, per_row: int) -> None:
        ids = torch.randint(1000, 2000, (rows, length))
        if per_row > 1:  # sentences side by side in a row, each seeing only itself
            segment = torch.arange(length) * per_row // length
            mask = (segment[:, None] == segment[None, :]).expand(rows, 1, length, length)
            positions = (torch.arange(length) % (length // per_row)).expand(rows, length)
            logits = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits
        else:
            logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
        logits.float().pow(2).mean().backward()
        model.zero_grad(set_to_none=True)

    times: dict[tuple, list[float]] = {shape: [] for shape in SHAPES}
    for shape in SHAPES:  # warm-up
        call(*shape)
    for _ in range(args.repeats):
        for shape in SHAPES:
            began = time.perf_counter()
            call(*shape)
            times[shape].append(time.perf_counter() - began)
    print(f"MiniLM forward + backward, {torch.get_num_threads()} threads, median of {args.repeats}")
    for (rows, length, per_row), spent in times.items():
        ms = statistics.median(spent) * 1000
        label = f"{rows} x {length}" + (f" ({per_row} sentences a row)" if per_row > 1 else "")
        tokens = rows * length
        print(f"  {label:32s} {tokens:4d} tokens  {ms:7.1f} ms  {ms / tokens:.3f} ms/token")
    return 0


if __name__ == "__main__":
    sys.exit(main())
