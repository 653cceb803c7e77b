"""The feature cache's file format: safetensors columns (what workbench writes)
against the pickles it wrote before, on features shaped like IMDb's training
split at 512 tokens (25,000 rows, lengths 60-512, input_ids, attention_mask, a
label). Both sides interleaved, several repetitions; prints seconds to write
and to read back a list of dicts, file sizes, and the ratios.

    python benchmarks/feature_cache_format.py [--rows 25000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import pickle
import random
import statistics
import tempfile
import time
from pathlib import Path

from workbench.engine import feature_cache


def features(rows: int) -> list[dict]:
    rng = random.Random(0)
    out = []
    for i in range(rows):
        n = rng.randint(60, 512)
        ids = [101] + [rng.randrange(30522) for _ in range(n - 2)] + [102]
        out.append({"input_ids": ids, "attention_mask": [1] * n, "labels": i % 2, "example": i})
    return out


def timed(fn) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=25000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = features(args.rows)
    folder = Path(tempfile.mkdtemp())
    pkl, st = folder / "entry.pkl", folder / f"entry{feature_cache.SUFFIX}"
    times: dict[str, list[float]] = {
        k: [] for k in ("pickle write", "pickle read", "st write", "st read")
    }
    for _ in range(args.repeats):
        times["pickle write"].append(
            timed(lambda: pkl.write_bytes(pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)))
        )
        times["st write"].append(timed(lambda: feature_cache._write(st, data)))
        times["pickle read"].append(timed(lambda: pickle.loads(pkl.read_bytes())))
        began = time.perf_counter()
        got = feature_cache._read(st)
        times["st read"].append(time.perf_counter() - began)
        assert got == data
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{args.rows:,} rows, {args.repeats} repetitions, median seconds:")
    for side in ("pickle", "st"):
        name = "pickle (before)" if side == "pickle" else "safetensors (now)"
        print(f"  {name:<18} write {med[side + ' write']:.2f}  read {med[side + ' read']:.2f}")
    print(
        f"  file size: pickle {pkl.stat().st_size / 2**20:.0f} MiB, "
        f"safetensors {st.stat().st_size / 2**20:.0f} MiB"
    )
    print(
        f"  safetensors / pickle: write {med['st write'] / med['pickle write']:.2f}x, "
        f"read {med['st read'] / med['pickle read']:.2f}x"
    )


if __name__ == "__main__":
    main()
