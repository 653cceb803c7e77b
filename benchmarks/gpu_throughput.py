"""Training throughput and model FLOP utilisation on a GPU, with a BERT-base-sized
encoder (12 layers, hidden 768, 12 heads, random weights, the bundled
tokenizer), on synthetic classification texts of 60-250 words.

Each variant is a `workbench run` process of its own; the Trainer recipe runs
the same budget (bf16, its defaults) for the ratio. Throughput is read from
the step events after a warm-up, in real (unpadded) tokens: samples/s times
the mean tokens of an example.

MFU counts the useful FLOPs of a token, fwd + bwd: 6 x the non-embedding
parameters (the matrix products) + 12 x layers x hidden x sequence length (the
attention scores and their use, PaLM's appendix B), over the chip's dense bf16
peak (H100/H200 SXM: 989 TFLOP/s; --peak to change). Padding is not counted.

Then, in the same invocation: a real CUDA out-of-memory with train.auto_batch
(a batch far too large, halved until it fits), and prediction throughput of
the trained model (`task.predict`, sorted batches, bf16).

    python benchmarks/gpu_throughput.py [--steps 150] [--tokenizer FOLDER] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS, HIDDEN, HEADS, FFN = 12, 768, 12, 3072
BATCH = [64]  # --batch


def make_model(folder: Path, tokenizer_dir: str, small: bool = False) -> int:
    """A random BERT-base-sized encoder saved with the tokenizer; returns its
    non-embedding parameter count."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=64 if small else HIDDEN,
        num_hidden_layers=2 if small else LAYERS,
        num_attention_heads=HEADS // 6 if small else HEADS,
        intermediate_size=128 if small else FFN,
        max_position_embeddings=512,
    )
    model = BertModel(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return sum(p.numel() for n, p in model.named_parameters() if "embeddings" not in n)


def make_data(folder: Path, tokenizer_dir: str, count: int) -> list[str]:
    from transformers import AutoTokenizer

    vocab = [
        w
        for w in AutoTokenizer.from_pretrained(tokenizer_dir).get_vocab()
        if w.isalpha() and w.islower() and len(w) > 2
    ][:8000]
    rng = random.Random(0)
    texts = [" ".join(rng.choice(vocab) for _ in range(rng.randint(60, 250))) for _ in range(count)]
    labels = ["pos" if t.count("e") % 2 else "neg" for t in texts]
    lines = ["text,label"] + [f"{t},{label}" for t, label in zip(texts, labels)]
    (folder / "train.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # Four times over, for a batch (all of it at once) that cannot fit.
    (folder / "big.csv").write_text("\n".join(lines + lines[1:] * 3) + "\n", encoding="utf-8")
    return texts


def run(command: list[str], timeout: int) -> tuple[int, str, float]:
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        return done.returncode, done.stdout + done.stderr, time.perf_counter() - started
    except subprocess.TimeoutExpired as exc:
        return 124, f"timed out after {timeout}s: {exc.stdout or ''}", timeout


def workbench_variant(
    name: str, settings: list[str], model: Path, data: Path, runs: Path, steps: int, timeout: int
) -> dict:
    out = runs / name
    command = [
        sys.executable,
        "-m",
        "workbench",
        "run",
        str(ROOT / "recipes/demo-sentiment.toml"),
        "--quiet-reports",
        "--set",
        f"model.name={model}",
        "--set",
        "model.max_length=256",
        "--set",
        f"data.train={data / 'train.csv'}",
        "--set",
        "data.validation=",
        "--set",
        "data.test=",
        "--set",
        f"train.max_steps={steps}",
        "--set",
        "train.log_every=10",
        "--set",
        f"train.batch_size={BATCH[0]}",
        "--set",
        "train.learning_rate=2e-5",
        "--set",
        "train.warmup_ratio=0",
        "--set",
        f"output.dir={out}",
        *[x for s in settings for x in ("--set", s)],
    ]
    code, output, wall = run(command, timeout)
    if code != 0:
        return {"name": name, "error": output[-1500:], "wall_s": wall}
    from workbench.runs.folder import read_events

    run_dir = next(out.iterdir())
    events = read_events(run_dir)
    start = next(e for e in events if e.type == "start")
    steps_ = [e for e in events if e.type == "step"]
    warm = [e for e in steps_ if e.step >= 30]
    last = steps_[-1]
    samples_per_s = (
        (last.step - warm[0].step) * start.batch_size / (last.elapsed_s - warm[0].elapsed_s)
        if len(warm) > 1
        else last.step * start.batch_size / last.elapsed_s
    )
    return {
        "name": name,
        "samples_per_s": samples_per_s,
        "memory_mb": last.memory_mb,
        "all_samples_per_s": last.step * start.batch_size / last.elapsed_s,
        "wall_s": wall,
        "run_dir": str(run_dir),
        "device": start.device,
        "precision": start.precision,
        "compile_s": start.compile_s,
    }


def trainer_variant(model: Path, data: Path, runs: Path, steps: int, timeout: int) -> dict:
    command = [
        sys.executable,
        str(ROOT / "benchmarks/trainer_recipe.py"),
        "classification",
        str(data / "train.csv"),
        str(data / "train.csv"),
        "--train-n",
        "100000",
        "--dev-n",
        "512",
        "--steps",
        str(steps),
        "--batch",
        str(BATCH[0]),
        "--eval-batch",
        "64",
        "--lr",
        "2e-5",
        "--seed",
        "1",
        "--max-length",
        "256",
        "--out",
        str(runs / "trainer"),
        "--model",
        str(model),
        "--bf16",
    ]
    code, output, wall = run(command, timeout)
    if code != 0:
        return {"name": "Trainer bf16", "error": output[-1500:], "wall_s": wall}
    result = json.loads(output.strip().splitlines()[-1])
    # The Trainer's figure covers its whole train(), warm-up included.
    return {
        "name": "Trainer bf16 (whole train())",
        "samples_per_s": result["train_samples_per_s"],
        "wall_s": wall,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--tokenizer", help="tokenizer folder (default: the bundled MiniLM's)")
    parser.add_argument("--peak", type=float, default=989e12, help="dense bf16 FLOP/s")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument(
        "--oom-batch", type=int, default=65536, help="a micro-batch too large for the GPU"
    )
    parser.add_argument("--predict", type=int, default=4096, help="texts to predict")
    parser.add_argument("--skip", nargs="*", default=[], help="variants to leave out")
    parser.add_argument(
        "--checks",
        action="store_true",
        help="issue 29's GPU checks in one go: batch 256 (MFU >= 40%%, eager and compiled), "
        "then the shipped CoNLL-2003 recipe against the Trainer, three seeds (run <= 20 s, "
        "dev F1 within 0.3; needs ../shared/datasets/conll2003)",
    )
    parser.add_argument(
        "--any-device",
        action="store_true",
        help="run even without a GPU, on a 2-layer model (to try the script)",
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.checks:
        args.batch = 256
        args.skip = sorted({*args.skip, "fp32", "random"})
    BATCH[0] = args.batch
    import torch

    if not torch.cuda.is_available() and not args.any_device:
        print("no CUDA GPU here: nothing to measure")
        return 0
    if args.tokenizer is None:
        from workbench.models.pretrained import resolve_model

        args.tokenizer = resolve_model("minilm")
    lines: list[str] = []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)
        if args.out:
            args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model, data, runs = tmp / "bert-base", tmp / "data", tmp / "runs"
        data.mkdir()
        params = make_model(model, args.tokenizer, small=args.any_device)
        texts = make_data(data, args.tokenizer, 12_000)
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model)
        lengths = [
            len(tokenizer(t, truncation=True, max_length=256)["input_ids"]) for t in texts[:2000]
        ]
        tokens = statistics.mean(lengths)
        seq2 = statistics.mean(n * n for n in lengths) / tokens  # attention: mean of n^2 / n
        flops_per_token = 6 * params + 12 * LAYERS * HIDDEN * seq2
        device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
        say(
            f"{device}; torch {torch.__version__}; BERT-base-sized "
            f"encoder, {params / 1e6:.1f}M non-embedding parameters; {tokens:.0f} real tokens "
            f"per example (max_length 256); batch {args.batch}; {args.steps} steps, the first 30 "
            f"not timed; {flops_per_token / 1e9:.2f} GFLOP per token (fwd+bwd)"
        )
        say(
            f"\n{'variant':34s} {'samples/s':>10s} {'tokens/s':>10s} {'MFU':>6s} "
            f"{'peak GPU MiB':>12s} {'process s':>9s}"
        )

        def row(r: dict) -> dict:  # printed as each finishes: a cut-short run still says
            if "error" in r:
                say(f"{r['name']:34s} failed: {r['error'][-600:]}")
                return r
            tps = r["samples_per_s"] * tokens
            mfu = tps * flops_per_token / args.peak
            memory = f"{r['memory_mb']:.0f}" if r.get("memory_mb") else "-"
            compiled = f" (compiled in {r['compile_s']:.0f} s)" if r.get("compile_s") else ""
            say(
                f"{r['name']:34s} {r['samples_per_s']:10.1f} {tps:10.0f} {100 * mfu:5.1f}% "
                f"{memory:>12s} {r['wall_s']:9.1f}{compiled}"
            )
            return r

        variants = [
            ("bf16, length-grouped", []),
            ("bf16, random batches", ["train.group_by_length=false"]),
            ("fp32, length-grouped", ["train.precision=fp32"]),
        ]
        results = [
            row(workbench_variant(name, settings, model, data, runs, args.steps, 240))
            for name, settings in variants
            if not any(s in name for s in args.skip)
        ]
        if "Trainer" not in args.skip:
            results.append(row(trainer_variant(model, data, runs, args.steps, timeout=180)))
        ours = next(
            (r for r in results if r["name"] == "bf16, length-grouped" and "error" not in r), None
        )
        theirs = next(
            (r for r in results if r["name"].startswith("Trainer") and "error" not in r), None
        )
        if ours and theirs:
            say(
                f"workbench bf16 / Trainer bf16 training samples/s, both over all steps: "
                f"{ours['all_samples_per_s']:.1f} / {theirs['samples_per_s']:.1f} = "
                f"{ours['all_samples_per_s'] / theirs['samples_per_s']:.2f}x"
            )

        # A real out-of-memory: --oom-batch x 256 tokens per micro-batch, halved until it fits.
        if "oom" not in args.skip:
            oom = workbench_variant(
                "auto_batch",
                [
                    f"train.batch_size={args.oom_batch}",
                    "train.auto_batch=true",
                    "train.log_every=1",
                    f"data.train={data / 'big.csv'}",
                ],
                model,
                data,
                runs,
                1,
                timeout=180,
            )
            if "error" in oom:
                say(f"\nout of memory with auto_batch: failed: {oom['error'][-800:]}")
            else:
                from workbench.runs.folder import read_events

                adjusted = [e for e in read_events(Path(oom["run_dir"])) if e.type == "batch"]
                say(
                    f"\nout of memory with auto_batch: {len(adjusted)} halvings, trained on "
                    f"with micro-batch {adjusted[-1].batch_size if adjusted else args.oom_batch} x "
                    f"accumulation {adjusted[-1].gradient_accumulation if adjusted else 1}; "
                    f"reason: {adjusted[0].reason if adjusted else '-'}"
                )

        # Prediction throughput of a trained model: the one inference path.
        if ours:
            from workbench.models.saved import load_saved

            saved = load_saved(Path(ours["run_dir"]) / "model")
            task, model_, tok = saved.task, saved.model, saved.tokenizer
            model_.to("cuda" if torch.cuda.is_available() else "cpu")
            sample = texts[: args.predict]
            task.predict(model_, tok, sample[:256], 256, batch_size=256)  # warm-up
            began = time.perf_counter()
            task.predict(model_, tok, sample, 256, batch_size=256)
            seconds = time.perf_counter() - began
            task.predict(model_, tok, sample[1:2], 256, batch_size=1)  # warm-up
            began = time.perf_counter()
            task.predict(model_, tok, sample[:1], 256, batch_size=1)
            one = time.perf_counter() - began
            say(
                f"prediction (task.predict, bf16 autocast, batches of 256 sorted by length): "
                f"{len(sample) / seconds:.0f} texts/s ({len(sample)} texts of ~{tokens:.0f} "
                f"tokens); one text {1000 * one:.1f} ms"
            )
        if "compiled" not in args.skip:  # last: compiling may take minutes
            compiled = workbench_variant(
                "bf16, length-grouped, compiled",
                ["train.compile=true"],
                model,
                data,
                runs,
                args.steps,
                600,
            )
            results.append(row(compiled))
        if args.checks:
            for r in results:
                if "error" not in r and r["name"].startswith("bf16"):
                    mfu = r["samples_per_s"] * tokens * flops_per_token / args.peak
                    verdict = "meets" if mfu >= 0.40 else "is short of"
                    say(f"check: {r['name']} at batch 256 {verdict} 40% MFU ({100 * mfu:.1f}%)")
    if args.checks:  # the shipped recipe, three seeds a side, printed as it goes
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "quality_vs_trainer.py"),
                "--tasks",
                "conll2003",
                "--train-n",
                "0",
                "--seeds",
                "1",
                "2",
                "3",
            ],
            check=False,
        )
    if args.out:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
